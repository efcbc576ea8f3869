// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"use strict";
var svg, fg_frames = [], root = null, details, matchedtext, searchbtn, unzoombtn;
var total = 0, fullw = 0, xpad = 10, charw = 7.2, searching = false, zoomed = null;
var matchcolor = "rgb(230,0,230)";
var titlere = /^([\s\S]*) \((\d+) [\s\S]*?, ([0-9.]+)%\)$/;

function init(evt) {
	svg = document.documentElement;
	details = document.getElementById("details");
	matchedtext = document.getElementById("matched");
	searchbtn = document.getElementById("search");
	unzoombtn = document.getElementById("unzoom");
	fullw = parseFloat(svg.getAttribute("width")) - 2 * xpad;
	fg_frames = Array.prototype.slice.call(document.querySelectorAll("g.f"));
	fg_frames.forEach(function (g) {
		var t = g.querySelector("title").textContent, m = titlere.exec(t);
		var r = g.querySelector("rect");
		g._info = t;
		g._name = m ? m[1] : t;
		g._count = m ? Number(m[2]) : 0;
		g._rect = r;
		g._text = g.querySelector("text");
		g._x = parseFloat(r.getAttribute("x"));
		g._w = parseFloat(r.getAttribute("width"));
		g._y = parseFloat(r.getAttribute("y"));
		g._fill = r.getAttribute("fill");
	});
	root = document.getElementById("root");
	total = root ? root._count : 0;
	/* Labels were cut in C for an assumed font; redo them with the font actually used. */
	var cw = measure_char();
	if (cw > 0 && Math.abs(cw - charw) > 0.05) {
		charw = cw;
		fg_frames.forEach(function (g) { label(g, g._w); });
	}
	svg.addEventListener("click", handle_click);
	svg.addEventListener("mouseover", function (e) {
		var g = find_group(e.target);
		if (g) details.textContent = g._info;
	});
	svg.addEventListener("mouseout", function (e) {
		if (find_group(e.target)) details.textContent = " ";
	});
	window.addEventListener("keydown", function (e) {
		if ((e.ctrlKey || e.metaKey) && (e.key === "f" || e.key === "F")) {
			e.preventDefault();
			search_prompt(true);
		} else if (e.key === "Escape") {
			reset_search();
		}
	});
	var s = null;
	try { s = new URLSearchParams(window.location.search).get("s"); } catch (err) { s = null; }
	if (s) search(s);
}

function measure_char() {
	var g = document.getElementById("frames");
	if (!g) return 0;
	var t = document.createElementNS("http://www.w3.org/2000/svg", "text");
	t.textContent = "mmmmmmmmmmmmmmmmmmmm";
	g.appendChild(t);
	var w = 0;
	try { w = t.getComputedTextLength() / 20; } catch (err) { w = 0; }
	g.removeChild(t);
	return w;
}

function find_group(el) {
	while (el && el !== svg) {
		if (el.nodeName === "g" && el.classList.contains("f")) return el;
		el = el.parentNode;
	}
	return null;
}

function handle_click(e) {
	var g = find_group(e.target);
	if (g) {
		if (g === root) unzoom(); else zoom(g);
	} else if (e.target === unzoombtn) {
		unzoom();
	} else if (e.target === searchbtn) {
		search_prompt(false);
	}
}

function label(g, w) {
	var t = g._text;
	if (!t) return;
	var fits = Math.floor((w - 6) / charw);
	if (fits < 3) { t.textContent = ""; return; }
	var chars = g._chars || (g._chars = Array.from(g._name));
	t.textContent = chars.length <= fits ? g._name : chars.slice(0, fits - 2).join("") + "..";
}

function place(g, x, w) {
	g._rect.setAttribute("x", x.toFixed(2));
	g._rect.setAttribute("width", w.toFixed(2));
	if (g._text) g._text.setAttribute("x", (x + 3).toFixed(2));
	label(g, w);
}

/*
 * Geometry decides ancestry: every drawn frame is at least ~1.2px wide and
 * positions are exact to 0.01px, so a small tolerance cannot confuse
 * neighbours with ancestors or descendants.
 */
function zoom(z) {
	var cx = z._x, cw = z._w, cy = z._y, ratio = fullw / cw, eps = 0.05;
	zoomed = z;
	unzoombtn.classList.remove("inactive");
	fg_frames.forEach(function (g) {
		var x = g._x, w = g._w, cls = g.classList;
		if (g._y > cy) {
			if (x <= cx + eps && x + w >= cx + cw - eps) {
				cls.remove("hide");
				cls.add("parent");
				place(g, xpad, fullw);
			} else {
				cls.add("hide");
			}
		} else if (x >= cx - eps && x + w <= cx + cw + eps) {
			cls.remove("hide", "parent");
			place(g, xpad + (x - cx) * ratio, w * ratio);
		} else {
			cls.add("hide");
		}
	});
}

function unzoom() {
	zoomed = null;
	unzoombtn.classList.add("inactive");
	fg_frames.forEach(function (g) {
		g.classList.remove("hide", "parent");
		place(g, g._x, g._w);
	});
}

function reset_search() {
	fg_frames.forEach(function (g) {
		if (g._rect.hasAttribute("data-match")) {
			g._rect.setAttribute("fill", g._fill);
			g._rect.removeAttribute("data-match");
		}
	});
	if (matchedtext) matchedtext.textContent = " ";
	if (searchbtn) searchbtn.textContent = "Search";
	searching = false;
}

function search_prompt(always) {
	if (searching && !always) { reset_search(); return; }
	var term = window.prompt("Enter a search term (regexp allowed, eg: ^json\\.)", "");
	if (term) search(term);
}

/* Returns the number of highlighted frames; an invalid regexp is searched for literally. */
function search(term) {
	var re;
	reset_search();
	if (term === undefined || term === null || term === "") return 0;
	if (term instanceof RegExp) {
		re = term;
	} else {
		term = String(term);
		try { re = new RegExp(term); }
		catch (err) { re = new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")); }
	}
	var hits = [];
	fg_frames.forEach(function (g) {
		if (g._name.search(re) < 0) return;
		g._rect.setAttribute("fill", matchcolor);
		g._rect.setAttribute("data-match", "1");
		hits.push(g);
	});
	/* Count each sample once: a match inside another match is already in its weight. */
	hits.sort(function (a, b) { return a._x - b._x || b._w - a._w; });
	var sum = 0, end = -1;
	hits.forEach(function (g) {
		if (g._x < end - 0.5) return;
		sum += g._count;
		end = g._x + g._w;
	});
	var pct = total ? 100 * sum / total : 0;
	if (pct > 100) pct = 100;
	matchedtext.textContent = "Matched: " + pct.toFixed(pct < 1 && pct > 0 ? 2 : 1) + "%";
	searchbtn.textContent = "Clear Search";
	searching = true;
	return hits.length;
}
