// HTTP client: fetches a URL with imscript.http.request and prints the
// status, two headers and the body; then it stops (exit status 1 when the
// request failed). The default URL is the http_hello example's.
//   imscript run scripts/js/http_client.js -- https://example.com/
// URL can also come from the environment.

async function main() {
  const url = imscript.args[0] || imscript.env.URL || "http://127.0.0.1:9505/";
  try {
    const res = await imscript.http.request({
      method: "GET",
      url,
      headers: { Accept: "text/html, text/plain;q=0.9, */*;q=0.5" },
      timeout: 10,
    });
    console.log("status: " + res.status);
    console.log("content-type: " + (res.headers["content-type"] || "-"));
    console.log("content-length: " + res.body.length);
    console.log("final url: " + res.url);
    console.log("");
    console.log(res.body.toString());
  } catch (err) {
    console.log("request failed: " + err.message);
    imscript.exit(1); // stops the host; `imscript run` exits with 1
    return;
  }
  imscript.shutdown();
}

// A script loads on every worker; one request is enough.
if (imscript.worker_id === 0) main();
