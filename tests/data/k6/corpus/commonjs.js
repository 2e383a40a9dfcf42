// CommonJS, as k6 also runs it; saved on Windows (BOM, CRLF).
const http = require("k6/http");

module.exports.options = {
  vus: 5,
  duration: "30s",
  thresholds: { http_req_failed: ["rate<0.02"] },
};

module.exports.default = function () {
  http.get("http://127.0.0.1:8000/health");
};
