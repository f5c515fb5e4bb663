window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: new URL("../openapi.json", window.location.href).pathname,
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
    requestInterceptor: function (request) {
      // "Authorize" takes the header's whole value: "Token <key>". A bare key is accepted too.
      var value = request.headers && request.headers.Authorization;
      if (value && /^\s*[0-9a-f]{40}\s*$/.test(value)) {
        request.headers.Authorization = "Token " + value.trim();
      }
      return request;
    }
  });
};
