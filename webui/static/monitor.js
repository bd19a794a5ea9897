// Read-only BPMN diagrams for the monitor pages: the path an instance took, or the dashboard's heat map.
// Uses the vendored bpmn-js navigated viewer (window.BpmnJS); markers and overlays only, no editing.
(function () {
  "use strict";

  function data(id) {
    return JSON.parse(document.getElementById(id).textContent);
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
      // The level (0..4) is the server's (engine.monitoring.dashboard.heat_level); none: no finished task yet.
      if (step.heat !== null && step.heat !== undefined) canvas.addMarker(step.element_id, "heat-" + step.heat);
      const badge = document.createElement("a");
      badge.className = "heat-badge" + (step.overdue ? " late" : "");
      badge.href = step.href;
      const parts = step.wait ? ["median " + step.wait] : [step.open + " open"];  // step.wait: the page's text
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

  // The list's checkboxes: "tick every instance on this page", and the count on the "Review the ticked" button.
  const form = document.getElementById("bulk-form");
  if (form) {
    const boxes = () => Array.from(form.querySelectorAll("input[data-pick]"));
    const alls = Array.from(form.querySelectorAll("input[data-pick-all]"));  // the header's, and the phone's
    const button = form.querySelector("[data-picked-button]");
    const count = form.querySelector("[data-picked-count]");
    const update = () => {
      const ticked = boxes().filter((b) => b.checked).length;
      if (count) count.textContent = String(ticked);
      if (button) button.disabled = ticked === 0;
      alls.forEach((all) => {
        all.checked = ticked > 0 && ticked === boxes().length;
        all.indeterminate = ticked > 0 && ticked < boxes().length;
      });
    };
    form.addEventListener("change", (event) => {
      if (alls.includes(event.target)) boxes().forEach((b) => { b.checked = event.target.checked; });
      update();
    });
    update();
  }
})();
