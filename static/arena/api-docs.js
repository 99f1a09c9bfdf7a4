// /api/docs: Swagger UI (vendored from the drf-spectacular-sidecar package) drawing our own
// OpenAPI document. "Try it out" sends the CSRF token like the battle page does.
(function () {
  "use strict";
  const box = document.getElementById("swagger-ui");
  function csrf() {
    const m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  window.ui = SwaggerUIBundle({
    url: box.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: false,
    requestInterceptor: (req) => { req.headers["X-CSRFToken"] = csrf(); return req; },
  });
})();
