-- Test helper for static files: an HTTP server that only serves
-- document_root (no request handler, so anything else is the host's 404).
-- Env: PORT, DOCROOT.
imscript.server{
    host = "127.0.0.1",
    port = tonumber(imscript.env.PORT),
    type = "http",
    worker_num = 2,
    document_root = imscript.env.DOCROOT,
}
