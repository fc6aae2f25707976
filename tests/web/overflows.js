// What of a page reaches past the window's edge or is cut (tests/web/test_layout.py):
// descriptions of the elements, empty when the page fits.
() => {
  const width = window.innerWidth;
  const found = [];
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (typeof el.className === "string" && el.className
       ? "." + el.className.trim().split(/\s+/).join(".") : "")
    + ' "' + (el.innerText || el.value || "").trim().slice(0, 40).replace(/\s+/g, " ") + '"';
  const page = document.documentElement.scrollWidth;
  if (page > width) found.push(`the page is ${page} px wide`);
  const canvas = document.createElement("canvas").getContext("2d");
  const reported = [];  // an element whose container was reported is not again
  const report = (el, what) => { reported.push(el); found.push(`${name(el)} ${what}`); };
  for (const el of document.body.querySelectorAll("*")) {
    if (reported.some((r) => r.contains(el))) continue;
    const box = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!box.width || !box.height || style.visibility === "hidden") continue;
    if (box.right > width + 0.5 || box.left < -0.5) {
      report(el, `reaches ${Math.round(box.left)}..${Math.round(box.right)} px`);
    } else if (["hidden", "clip"].includes(style.overflowX) && style.textOverflow !== "ellipsis"
               && el.scrollWidth > el.clientWidth + 1 && el.tagName !== "SELECT") {
      report(el, `is cut: ${el.scrollWidth} px in ${el.clientWidth}`);
    }
    if (el.tagName === "SELECT" && el.selectedIndex >= 0) {
      canvas.font = `${style.fontSize} ${style.fontFamily}`;
      const text = el.options[el.selectedIndex].text;
      const arrow = 24;
      const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight) - arrow;
      if (canvas.measureText(text).width > room) report(el, `shows "${text}" cut`);
    }
  }
  return found;
}
