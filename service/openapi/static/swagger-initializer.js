window.onload = function () {
  // The token given to "Authorize" lives only in this page's memory: it is not
  // persisted (persistAuthorization: false), and a token that an earlier
  // version of this page left in localStorage ("authorized") is removed.
  try {
    window.localStorage.removeItem("authorized");
  } catch {
    // storage disabled: nothing was persisted either
  }
  window.ui = SwaggerUIBundle({
    url: new URL("../openapi.json", window.location.href).pathname,
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
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
