// The bulk page's "tick every agent shown" box: ticks or clears each agent's box, and follows them back.
document.addEventListener("DOMContentLoaded", () => {
  const all = document.querySelector("[data-fleet-select-all]");
  if (!all) return;
  const boxes = () => Array.from(document.querySelectorAll('input[name="handles"]'));
  const sync = () => {
    const ticked = boxes().filter((box) => box.checked).length;
    all.checked = ticked > 0 && ticked === boxes().length;
    all.indeterminate = ticked > 0 && ticked < boxes().length;
  };
  all.addEventListener("change", () => {
    boxes().forEach((box) => { box.checked = all.checked; });
  });
  boxes().forEach((box) => box.addEventListener("change", sync));
  sync();
});
