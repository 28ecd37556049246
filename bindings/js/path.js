// require("path") / "node:path": Node's POSIX path functions (path.posix
// is the same object; there is no path.win32).
(function (cwd) {
  "use strict";

  const check = (p, name = "path") => {
    if (typeof p !== "string") {
      const e = new TypeError(`The "${name}" argument must be of type string. Received ${p === null ? "null" : typeof p}`);
      e.code = "ERR_INVALID_ARG_TYPE";
      throw e;
    }
  };

  // norm resolves . and .. segments; above the root they stay (relative)
  // or vanish (absolute).
  const norm = (p, abs) => {
    const out = [];
    for (const seg of p.split("/")) {
      if (seg === "" || seg === ".") continue;
      if (seg === "..") {
        if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
        else if (!abs) out.push("..");
      } else {
        out.push(seg);
      }
    }
    return out.join("/");
  };

  const path = {
    sep: "/",
    delimiter: ":",
    normalize(p) {
      check(p);
      if (p === "") return ".";
      const abs = p.startsWith("/");
      const trailing = p.endsWith("/");
      let s = norm(p, abs);
      if (s === "" && !abs) s = ".";
      if (s !== "" && trailing) s += "/";
      return (abs ? "/" : "") + s;
    },
    join(...parts) {
      parts.forEach((p) => check(p));
      const j = parts.filter((p) => p !== "").join("/");
      return j === "" ? "." : path.normalize(j);
    },
    resolve(...parts) {
      let r = "";
      for (let i = parts.length - 1; i >= 0 && !r.startsWith("/"); i--) {
        check(parts[i]);
        if (parts[i] !== "") r = parts[i] + (r === "" ? "" : "/" + r);
      }
      if (!r.startsWith("/")) r = cwd + (r === "" ? "" : "/" + r);
      return "/" + norm(r, true);
    },
    isAbsolute(p) {
      check(p);
      return p.startsWith("/");
    },
    relative(from, to) {
      check(from, "from");
      check(to, "to");
      const f = path.resolve(from).split("/").filter(Boolean);
      const t = path.resolve(to).split("/").filter(Boolean);
      let i = 0;
      while (i < f.length && i < t.length && f[i] === t[i]) i++;
      return [...f.slice(i).map(() => ".."), ...t.slice(i)].join("/");
    },
    dirname(p) {
      check(p);
      if (p === "") return ".";
      const s = p.replace(/\/+$/, "");
      if (s === "") return "/";
      const i = s.lastIndexOf("/");
      if (i < 0) return ".";
      const d = s.slice(0, i).replace(/\/+$/, "");
      return d === "" ? "/" : d;
    },
    basename(p, ext = undefined) {
      check(p);
      const s = p.replace(/\/+$/, "");
      let b = s.slice(s.lastIndexOf("/") + 1);
      if (ext !== undefined && b !== ext && b.endsWith(ext)) b = b.slice(0, b.length - ext.length);
      return b;
    },
    extname(p) {
      check(p);
      const b = path.basename(p);
      const i = b.lastIndexOf(".");
      return i <= 0 ? "" : b.slice(i);
    },
    parse(p) {
      check(p);
      const root = p.startsWith("/") ? "/" : "";
      const base = path.basename(p);
      const ext = path.extname(p);
      let dir = path.dirname(p);
      if (dir === "." && !p.startsWith(".")) dir = "";
      return { root, dir, base, ext, name: ext ? base.slice(0, base.length - ext.length) : base };
    },
    format(o) {
      const dir = o.dir || o.root || "";
      const base = o.base || (o.name || "") + (o.ext ? (o.ext.startsWith(".") ? "" : ".") + o.ext : "");
      if (!dir) return base;
      return dir === o.root ? dir + base : dir + "/" + base;
    },
    toNamespacedPath: (p) => p,
  };
  path.posix = path;
  return path;
})
