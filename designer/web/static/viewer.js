/* Read-only diagrams: a version with its live figures per element, or two versions side by side (diff). */
(function () {
  'use strict';

  function show(container, xml) {
    var viewer = new BpmnJS({ container: container });
    return viewer.importXML(xml).then(function () {
      var canvas = viewer.get('canvas');
      canvas.zoom('fit-viewport', 'auto');
      var box = canvas.viewbox(), pad = 24 / box.scale;                 // a margin, clear of the watermark
      canvas.viewbox({ x: box.x - pad, y: box.y - pad, width: box.width + 2 * pad, height: box.height + 3 * pad });
      return viewer;
    });
  }

  function badge(kind, n, title, href) {
    var el = document.createElement(href ? 'a' : 'span');
    el.className = 'pmo-count ' + kind;
    el.textContent = n;
    el.title = title;
    if (href) { el.href = href; }
    return el;
  }

  var versionData = document.getElementById('diagram-data');
  if (versionData) {
    var data = JSON.parse(versionData.textContent);
    show('#canvas', data.bpmn).then(function (viewer) {
      var registry = viewer.get('elementRegistry');
      var overlays = viewer.get('overlays');
      var canvas = viewer.get('canvas');
      Object.keys(data.figures.counts).forEach(function (id) {
        var el = registry.get(id);
        if (!el) { return; }
        var c = data.figures.counts[id];
        var box = document.createElement('div');
        box.className = 'pmo-counts';
        box.dataset.element = id;
        var row = document.querySelector('tr[data-element="' + CSS.escape(id) + '"]');
        var href = row ? '#' + row.id : null;
        if (c.active) { box.appendChild(badge('active', c.active, c.active + ' live token(s) here', href)); }
        if (c.waiting) { box.appendChild(badge('waiting', c.waiting, c.waiting + ' task(s) waiting', href)); }
        if (c.overdue) { box.appendChild(badge('overdue', c.overdue, c.overdue + ' overdue', href)); }
        if (c.error) { box.appendChild(badge('error', c.error, c.error + ' instance(s) in error', href)); }
        if (!box.childNodes.length) { return; }
        canvas.addMarker(el, 'pmo-live');
        overlays.add(el, 'pmo-counts', { position: { bottom: 12, left: -8 }, html: box });
      });
      document.body.dataset.designerReady = 'true';
    }).catch(function (err) {
      document.getElementById('canvas').textContent = 'The diagram cannot be shown: ' + err.message;
    });
  }

  var diffData = document.getElementById('diff-data');
  if (diffData) {
    var diff = JSON.parse(diffData.textContent);
    var mark = function (viewer, kinds) {
      var registry = viewer.get('elementRegistry');
      var canvas = viewer.get('canvas');
      kinds.forEach(function (kind) {
        diff.marks[kind].forEach(function (id) {
          var el = registry.get(id);
          // a pool or lane gets only its outline coloured: filled, it would hide everything drawn in it
          var box = el && (el.type === 'bpmn:Participant' || el.type === 'bpmn:Lane');
          if (el) { canvas.addMarker(el, 'pmo-diff-' + kind + (box ? '-box' : '')); }
        });
      });
      return viewer;
    };
    Promise.all([
      show('#canvas-before', diff.before).then(function (v) { return mark(v, ['removed', 'changed']); }),
      show('#canvas-after', diff.after).then(function (v) { return mark(v, ['added', 'changed']); })
    ]).then(function () { document.body.dataset.designerReady = 'true'; });
  }
})();
