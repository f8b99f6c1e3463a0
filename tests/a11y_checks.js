// Run in the page by tests/test_console_browser.py. Returns a list of problems, empty when all is well.
({
  // WCAG contrast of every visible element's own text against its effective background: 4.5:1, 3:1 for large text.
  contrast: () => {
    const parse = (colour) => {
      const match = colour.match(/rgba?\(([^)]+)\)/);
      if (!match) return null;
      const parts = match[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
    };
    const channel = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
    const background = (node) => {
      for (; node; node = node.parentElement) {
        const colour = parse(getComputedStyle(node).backgroundColor);
        if (colour && colour.a > 0.5) return colour;
      }
      return { r: 255, g: 255, b: 255 };
    };
    const problems = [];
    for (const node of document.querySelectorAll("body *")) {
      if (!(node instanceof HTMLElement) || !node.offsetParent) continue;
      if (![...node.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
      const style = getComputedStyle(node);
      if (style.visibility === "hidden" || Number(style.opacity) === 0 || node.closest(":disabled")) continue;
      const a = luminance(parse(style.color));
      const b = luminance(background(node));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
      if (ratio < (large ? 3 : 4.5)) {
        problems.push(`${node.tagName}.${node.className} ${ratio.toFixed(2)}: ${node.textContent.trim().slice(0, 40)}`);
      }
    }
    return problems;
  },
  // Form controls a screen reader could not name.
  unlabelled: () =>
    [...document.querySelectorAll("input, select, textarea")]
      .filter((c) => c.type !== "hidden" && !c.labels.length && !c.getAttribute("aria-label"))
      .map((c) => c.id || c.outerHTML),
})
