/* Loaded just before dmn-js's modeler bundle, and undone by dmn.js right after it.
   dmn-js 17.10.2's prebuilt dmn-modeler.production.min.js bundles Inferno's *development* build
   (upstream bug bpmn-io/dmn-js#965: its rollup build resolves inferno to dist/index.dev.esm.js), which
   announces itself while the bundle is evaluated: console.info("Inferno is in development mode.") and
   console.error("It looks like you're using a minified copy of the development build of Inferno..."). Those two
   lines, and only those, are dropped while the bundle loads; every other message passes unchanged. The vendored
   bundle stays upstream's verbatim (webui/static/vendor/README.md); the fix belongs upstream. */
(function () {
  'use strict';
  var INFERNO = /^(Inferno is in development mode\.|It looks like you're using a minified copy of the development build of Inferno)/;
  var kept = { info: console.info, error: console.error, warn: console.warn };
  function quiet(original) {
    return function (first) {
      if (typeof first === 'string' && INFERNO.test(first)) { return; }
      return original.apply(console, arguments);
    };
  }
  console.info = quiet(kept.info);
  console.error = quiet(kept.error);
  console.warn = quiet(kept.warn);
  window.pmoflowDmnQuiet = {
    done: function () { console.info = kept.info; console.error = kept.error; console.warn = kept.warn; }
  };
})();
