// Module required by reload_main.js; the tests rewrite the PREFIX line.
exports.PREFIX = "A";
