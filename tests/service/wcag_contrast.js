() => {
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c || '');
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(parseFloat);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const background = (el) => {
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.unshift(e);
    let bg = [255, 255, 255, 1];
    for (const e of chain) {
      const s = getComputedStyle(e);
      if (s.backgroundImage && s.backgroundImage !== 'none') return null;
      const c = parse(s.backgroundColor);
      if (c && c[3] > 0) bg = over(c, bg);
    }
    return bg;
  };
  const visible = (el) => {
    const s = getComputedStyle(el);
    if (s.visibility !== 'visible' || s.display === 'none' || parseFloat(s.opacity) === 0) return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && !el.closest('[hidden]');
  };
  const checked = [], failures = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const control = el.matches('input, select, textarea');
    if (!(own || control) || !visible(el) || el.closest('title, desc, script, style')) continue;
    const s = getComputedStyle(el);
    const svg = el instanceof SVGElement;
    const fg = parse(svg ? s.fill : s.color);
    const bg = background(el);
    if (!fg || !bg) { failures.push({text: el.textContent.slice(0, 40), why: 'unreadable colour'}); continue; }
    const text = over(fg, bg);
    const [a, b] = [lum(text), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    checked.push(ratio);
    if (ratio < 4.5) failures.push({text: (el.textContent || el.value || '').slice(0, 40), tag: el.tagName,
                                    ratio: Math.round(ratio * 100) / 100});
  }
  return {checked: checked.length, lowest: Math.min(...checked), failures};
}
