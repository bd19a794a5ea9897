// The auditor's instance page: the diagram of the version the instance ran, with the path it took
// (audit-done) and what is still open (audit-open). The data comes from <script id="diagram-data">.
(async function () {
  'use strict';
  const holder = document.getElementById('audit-diagram');
  const source = document.getElementById('diagram-data');
  if (!holder || !source) return;
  const data = JSON.parse(source.textContent);
  const viewer = new BpmnJS({ container: holder });
  try {
    await viewer.importXML(data.xml);
  } catch (err) {
    holder.textContent = 'The diagram could not be shown: ' + err.message;
    return;
  }
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  canvas.zoom('fit-viewport');
  for (const id of data.path) { if (registry.get(id)) canvas.addMarker(id, 'audit-done'); }
  for (const id of data.open) { if (registry.get(id)) canvas.addMarker(id, 'audit-open'); }
  holder.dataset.ready = 'true';
})();
