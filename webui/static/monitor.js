// Read-only BPMN diagrams for the monitor pages: the path an instance took, or the dashboard's heat map.
// Uses the vendored bpmn-js navigated viewer (window.BpmnJS); markers and overlays only, no editing.
(function () {
  "use strict";
  const HEAT_CLASSES = 5;

  function data(id) {
    return JSON.parse(document.getElementById(id).textContent);
  }

  function hours(value) {
    if (value === null || value === undefined) return "–";
    return value >= 48 ? (value / 24).toFixed(1) + " d" : value.toFixed(1) + " h";
  }

  function markPath(viewer, marks) {
    const canvas = viewer.get("canvas");
    const registry = viewer.get("elementRegistry");
    const mark = (ids, css) => ids.forEach((id) => { if (registry.get(id)) canvas.addMarker(id, css); });
    mark(marks.visited || [], "path-visited");
    mark(marks.active || [], "path-active");
    mark(marks.error || [], "path-error");
  }

  function markHeat(viewer, steps) {
    const canvas = viewer.get("canvas");
    const registry = viewer.get("elementRegistry");
    const overlays = viewer.get("overlays");
    steps.forEach((step) => {
      if (!registry.get(step.element_id)) return;
      if (step.wait !== null && step.wait !== undefined) {     // no finished task yet: no colour, only the badge
        const level = Math.min(HEAT_CLASSES - 1, Math.floor(step.heat * HEAT_CLASSES));
        canvas.addMarker(step.element_id, "heat-" + level);
      }
      const badge = document.createElement("a");
      badge.className = "heat-badge" + (step.overdue ? " late" : "");
      badge.href = step.href;
      const parts = step.wait !== null && step.wait !== undefined ? [hours(step.wait)] : [step.open + " open"];
      if (step.overdue) parts.push(step.overdue + " late");
      badge.textContent = parts.join(" · ");
      badge.title = step.open + " open, " + step.overdue + " overdue: list them";
      overlays.add(step.element_id, "heat", { position: { top: -11, left: -6 }, html: badge });
    });
  }

  async function show(container) {
    const viewer = new window.BpmnJS({ container: container });
    try {
      await viewer.importXML(data(container.dataset.xml));
      viewer.get("canvas").zoom("fit-viewport", "auto");
      const marks = data(container.dataset.marks);
      if (container.dataset.mode === "heat") markHeat(viewer, marks); else markPath(viewer, marks);
      container.dataset.ready = "1";
    } catch (err) {
      container.textContent = "The diagram could not be shown: " + err.message;
      container.dataset.ready = "error";
    }
  }

  document.querySelectorAll("[data-bpmn]").forEach(show);
})();
