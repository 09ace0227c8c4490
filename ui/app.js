// paperlens web UI: a hash-routed page that talks to the API over HTTP only.
//
// Safety rule: text that comes from papers (titles, passages, quotes, answers, file names) is only
// ever put into the page as text nodes (el(), textContent). Nothing here assigns innerHTML, so a
// PDF that contains markup shows it as characters and cannot run script or add elements.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const KEY_STORE = "paperlens.apiKey";

// --- DOM building ------------------------------------------------------------------------------

/** An element; attrs: class, on<event> handlers, DOM properties (hidden, disabled...) or attributes. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "hidden" || k === "disabled" || k === "checked" || k === "value") node[k] = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function link(href, text, label) {
  return el("a", { href, rel: "noopener noreferrer", target: "_blank", "aria-label": label }, text);
}

/** Only http(s) URLs become links: a javascript: URL in paper metadata must not be clickable. */
function safeUrl(url) {
  if (!url) return null; // "" would resolve to this page itself
  try {
    const u = new URL(url, location.href);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}

function paperLinks(item) {
  const l = item.links || {};
  const out = el("span", { class: "links" });
  const abs = safeUrl(l.arxiv || (item.arxiv_id ? `https://arxiv.org/abs/${item.arxiv_id}` : ""));
  const pdf = safeUrl(l.pdf || (item.arxiv_id ? `https://arxiv.org/pdf/${item.arxiv_id}` : ""));
  const code = safeUrl(l.code || "");
  const project = safeUrl(l.project || "");
  const title = item.title || item.paper_id;
  if (abs) out.append(link(abs, "arXiv", `arXiv page of ${title}`));
  if (pdf) out.append(link(pdf, "PDF", `PDF of ${title}`));
  if (code) out.append(link(code, "code", `code of ${title}`));
  if (project) out.append(link(project, "project", `project page of ${title}`));
  return out;
}

const paperHref = (id) => `#/paper/${encodeURIComponent(id)}`;
const authorsText = (a = []) => (a.length > 5 ? `${a.slice(0, 5).join(", ")} et al.` : a.join(", "));
// Digest pages and metadata records have no page numbers (page 0): they are named by their kind.
const pages = (h) => (!h.page ? (h.doc_kind || "no page") : h.page_end > h.page ? `pp. ${h.page}–${h.page_end}` : `p. ${h.page}`);
const citeLabel = (c) => (c.page ? `p. ${c.page}` : "source");
const splitList = (s) => (s || "").split(/[,;\n]/).map((x) => x.trim()).filter(Boolean);

// --- query-term highlighting -------------------------------------------------------------------

const STOP = new Set(("a an and are as at be by can do does for from how in into is it of on or the to was what when " +
  "which who why with we our this that these those using use via vs").split(" "));

/** Terms to mark: Latin words (no stop words) and Chinese runs with their two-character pieces. */
function queryTerms(query) {
  const out = new Set();
  for (const [token] of (query || "").matchAll(/[\p{L}\p{N}][\p{L}\p{N}\-_']*/gu)) {
    for (const [part] of token.matchAll(/\p{Script=Han}+|[^\p{Script=Han}]+/gu)) {
      if (/\p{Script=Han}/u.test(part)) {
        out.add(part);
        for (let i = 0; part.length > 2 && i < part.length - 1; i++) out.add(part.slice(i, i + 2));
      } else {
        const t = part.replace(/[-_']+$/, "").toLowerCase();
        if (t.length > 1 && !STOP.has(t)) out.add(t);
      }
    }
  }
  return [...out].sort((a, b) => b.length - a.length);
}

const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The text as a fragment of text nodes with <mark> around each term (Latin terms at word starts). */
function highlight(text, terms) {
  const frag = document.createDocumentFragment();
  if (!terms.length) return append(frag, [text]);
  const alts = terms.map((t) => (/\p{Script=Han}/u.test(t) ? escapeRe(t) : `(?<![\\p{L}\\p{N}])${escapeRe(t)}`));
  const re = new RegExp(alts.join("|"), "giu");
  let last = 0;
  for (const m of text.matchAll(re)) {
    if (!m[0]) continue;
    frag.append(text.slice(last, m.index), el("mark", {}, m[0]));
    last = m.index + m[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}

/** The chunk text with the verbatim quote marked (first occurrence; whitespace-tolerant fallback). */
function markQuote(text, quote) {
  let at = text.indexOf(quote);
  let len = quote.length;
  if (at < 0 && quote.trim()) {
    const re = new RegExp(quote.trim().split(/\s+/).map(escapeRe).join("\\s+"));
    const m = re.exec(text);
    if (m) [at, len] = [m.index, m[0].length];
  }
  if (at < 0) return append(document.createDocumentFragment(), [text]);
  return append(document.createDocumentFragment(),
    [text.slice(0, at), el("mark", { class: "quote" }, text.slice(at, at + len)), text.slice(at + len)]);
}

// --- API client --------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    const fields = (body && body.errors ? body.errors : []).map((e) => `${e.field}: ${e.message}`);
    const detail = (body && body.detail) || `the server answered HTTP ${status}`;
    super(fields.length ? `${detail} (${fields.join("; ")})` : detail);
    this.status = status;
    this.body = body;
  }
}

let keyPrompt = null; // one prompt at a time, shared by every request that got a 401

function askForKey(reason) {
  if (keyPrompt) return keyPrompt;
  const dialog = $("#key-dialog");
  const input = $("#key-input");
  $("#key-reason").textContent = reason || "This server needs an API key.";
  input.value = "";
  keyPrompt = new Promise((resolve) => {
    const done = (key) => {
      dialog.removeEventListener("close", onClose);
      keyPrompt = null;
      resolve(key);
    };
    const onClose = () => {
      const key = dialog.returnValue === "ok" ? input.value.trim() : "";
      if (key) sessionStorage.setItem(KEY_STORE, key);
      done(key);
    };
    dialog.addEventListener("close", onClose);
    dialog.returnValue = "";
    dialog.showModal();
  });
  return keyPrompt;
}

/** fetch() with the stored API key; JSON in and out; a problem+json answer becomes an ApiError. */
async function api(path, { method = "GET", json, form } = {}) {
  for (let attempt = 0; ; attempt++) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = `Bearer ${key}`;
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form) body = form;
    let resp;
    try {
      resp = await fetch(path, { method, headers, body });
    } catch (err) {
      throw new ApiError(0, { detail: `the server did not answer (${err.message})` });
    }
    const data = await resp.json().catch(() => null);
    if (resp.status === 429 && attempt < 3) {
      // over the rate limit: wait as told when it is short (job polling), else say so
      const wait = Number(resp.headers.get("Retry-After")) || 1;
      if (wait <= 10) {
        await new Promise((r) => setTimeout(r, wait * 1000));
        continue;
      }
    }
    if (resp.status === 401 && attempt < 3) {
      sessionStorage.removeItem(KEY_STORE);
      if (await askForKey(data && data.detail)) continue;
    }
    if (!resp.ok) throw new ApiError(resp.status, data);
    return data;
  }
}

// --- shared pieces: status lines, citations, answer footers --------------------------------------

function setStatus(node, text, kind = "") {
  node.textContent = text;
  node.dataset.kind = kind;
}

/** Runs a request with the form's buttons disabled and the status line saying what happens. */
async function busy(form, status, text, fn) {
  const buttons = form ? [...form.querySelectorAll("button")] : [];
  buttons.forEach((b) => (b.disabled = true));
  setStatus(status, text, "busy");
  const t0 = performance.now();
  try {
    return await fn();
  } catch (err) {
    setStatus(status, `Error: ${err.message}`, "error");
    return undefined;
  } finally {
    buttons.forEach((b) => (b.disabled = false));
    if (status.dataset.kind === "busy") setStatus(status, `Done in ${((performance.now() - t0) / 1000).toFixed(1)} s.`);
  }
}

let citeSeq = 0;

/** Citation buttons for a sentence plus the panel they open (page, quote, then the whole passage).
 * `shared`: a panel that many cells' buttons open in turn (a table has no room beside a cell). */
function citations(cites, shared = null) {
  const wrap = el("span", { class: "cites" });
  if (!cites || !cites.length) return { buttons: wrap, panel: null };
  const seq = ++citeSeq;
  const panel = shared || el("div", { class: "cite-panel", id: `cite-${seq}`, hidden: true, role: "region" });
  cites.forEach((c, i) => {
    const tipId = `tip-${seq}-${i}`;
    const quote = c.quote || "";
    const btn = el("button", {
      type: "button", class: "cite", "aria-expanded": "false", "aria-controls": panel.id, "aria-describedby": tipId,
      "aria-label": `Source ${i + 1}: ${c.page ? `page ${c.page}` : "no page number"}`,
    }, citeLabel(c));
    const tip = el("span", { class: "tip", role: "tooltip", id: tipId }, `${citeLabel(c)}: “${quote}”`);
    btn.addEventListener("click", () => {
      const same = btn.getAttribute("aria-expanded") === "true";
      document.querySelectorAll(`[aria-controls="${panel.id}"]`).forEach((b) => b.setAttribute("aria-expanded", "false"));
      if (same) {
        panel.hidden = true;
        return;
      }
      btn.setAttribute("aria-expanded", "true");
      showPassage(panel, c);
      if (shared) panel.scrollIntoView({ block: "nearest" });
    });
    wrap.append(el("span", { class: "cite-wrap" }, btn, tip), " ");
  });
  return { buttons: wrap, panel: shared ? null : panel };
}

const chunkCache = new Map();

async function showPassage(panel, c) {
  panel.hidden = false;
  panel.setAttribute("aria-label", `Source passage, ${citeLabel(c)}`);
  const passage = el("p", { class: "passage" }, "Loading the passage…");
  panel.replaceChildren(
    el("p", { class: "cite-head" }, el("strong", {}, c.page ? `Page ${c.page}` : "Source"), " · ",
      el("a", { href: paperHref(c.paper_id) }, c.paper_id)),
    el("blockquote", { class: "quote-text" }, `“${c.quote || ""}”`),
    passage);
  try {
    if (!chunkCache.has(c.chunk_id)) chunkCache.set(c.chunk_id, api(`/api/chunks/${encodeURIComponent(c.chunk_id)}`));
    const chunk = await chunkCache.get(c.chunk_id);
    passage.replaceChildren(
      el("span", { class: "muted" }, `${chunk.section || "passage"}, ${pages(chunk)}: `),
      markQuote(chunk.text, c.quote || ""));
  } catch (err) {
    chunkCache.delete(c.chunk_id);
    passage.textContent = `The passage could not be loaded: ${err.message}`;
  }
}

/** One cited sentence as an <li> (or another tag): text, citation buttons, the passage panel. */
function sentence(s, tag = "li") {
  const { buttons, panel } = citations(s.citations);
  return el(tag, { class: "sentence" }, el("span", { class: "s-text" }, s.text), " ", buttons, panel);
}

function sentenceList(list, cls = "sentences") {
  return el("ul", { class: cls }, (list || []).map((s) => sentence(s)));
}

/** Which backend wrote the answer and what the checker did; reasons behind a disclosure. */
function answerMeta(out) {
  const ck = out.check || { checked: 0, dropped: 0, reasons: [] };
  const box = el("div", { class: "answer-meta", "data-testid": "answer-meta" },
    el("span", { class: "badge" }, `Backend: ${out.backend}`), " ",
    el("span", {}, `${ck.checked} claim${ck.checked === 1 ? "" : "s"} checked, ${ck.dropped} dropped`),
    out.elapsed_s !== undefined ? el("span", { class: "muted" }, ` · ${out.elapsed_s} s`) : null);
  if (ck.reasons && ck.reasons.length) {
    box.append(el("details", {}, el("summary", {}, "Why claims were dropped"),
      el("ul", {}, ck.reasons.map((r) => el("li", {}, r)))));
  }
  return box;
}

function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function copyText(text, status) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // no clipboard API (a plain-http page on another host): copy through a selected text area
    const ta = el("textarea", { class: "sr-only", "aria-hidden": "true" });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
  setStatus(status, "Markdown copied to the clipboard.");
}

const slug = (s) => (s || "export").toLowerCase().replace(/[^\p{L}\p{N}]+/gu, "-").replace(/^-|-$/g, "").slice(0, 60) || "export";

/** Copy / download buttons for an answer's `markdown`, plus extra buttons. */
function toolbar(out, status, name, extra = []) {
  return el("div", { class: "toolbar", role: "group", "aria-label": "Export" },
    extra,
    el("button", { type: "button", class: "secondary", onclick: () => copyText(out.markdown, status) }, "Copy Markdown"),
    el("button", {
      type: "button", class: "secondary",
      onclick: () => download(`${slug(name)}.md`, out.markdown, "text/markdown;charset=utf-8"),
    }, "Download Markdown"));
}

// --- forms <-> hash parameters -------------------------------------------------------------------

/** The form's non-empty named fields as URLSearchParams (what the hash carries). */
function formParams(form) {
  const p = new URLSearchParams();
  for (const f of form.elements) {
    if (!f.name || f.type === "file" || f.type === "submit") continue;
    const v = f.value.trim();
    if (v && v !== f.defaultValue) p.set(f.name, v);
  }
  return p;
}

/** Puts the parameters back into the form; opens a <details> holding a set field. */
function fillForm(form, params) {
  for (const f of form.elements) {
    if (!f.name || f.type === "file") continue;
    const v = params.get(f.name);
    const dflt = f.tagName === "SELECT" ? f.options[0].value : f.defaultValue;
    f.value = v ?? dflt;
    if (v && v !== dflt) {
      const d = f.closest("details");
      if (d) d.open = true;
    }
  }
}

function filtersFrom(p) {
  return {
    date_from: p.get("from") || null, date_to: p.get("to") || null,
    categories: splitList(p.get("cat")), authors: splitList(p.get("author")),
  };
}

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

// --- views ---------------------------------------------------------------------------------------

const views = {};
const lastRun = {}; // view -> the parameters it last ran with (back/forward re-shows, never re-asks)

views.search = {
  form: "#search-form",
  async run(p) {
    const query = p.get("q");
    const status = $("#search-status");
    const list = $("#search-hits");
    list.replaceChildren();
    const body = await busy($("#search-form"), status, "Searching…", () => api("/api/search", {
      method: "POST", json: { query, k: Number(p.get("k")) || 10, filters: filtersFrom(p) },
    }));
    if (!body) return;
    setStatus(status, body.hits.length ? `${body.hits.length} passages for “${query}”.` : `No passages match “${query}”.`);
    const terms = queryTerms(query);
    for (const h of body.hits) {
      list.append(el("li", { class: "hit" },
        el("h2", { class: "hit-title" }, el("a", { href: paperHref(h.paper_id) }, h.title || h.paper_id)),
        el("p", { class: "meta" },
          authorsText(h.authors), h.authors.length ? " · " : "", h.date || "no date", " · ",
          el("span", { class: "where" }, `${h.section || h.doc_kind} · ${pages(h)}`), " ", paperLinks(h)),
        el("p", { class: "passage" }, highlight(h.text, terms))));
    }
  },
};

views.ask = {
  form: "#ask-form",
  async run(p) {
    const out = $("#ask-out");
    const status = $("#ask-status");
    out.replaceChildren();
    const json = { question: p.get("q"), filters: filtersFrom(p) };
    if (p.get("lang")) json.language = p.get("lang");
    const body = await busy($("#ask-form"), status, "Looking for an answer in the papers…",
      () => api("/api/ask", { method: "POST", json }));
    if (!body) return;
    out.append(
      body.answered
        ? el("ul", { class: "sentences", "aria-label": "Answer" }, body.sentences.map((s) => sentence(s)))
        : el("p", { class: "statement" }, body.statement || "The indexed papers do not answer this question."),
      answerMeta(body),
      toolbar(body, status, `answer-${body.question}`));
    if (body.passages && body.passages.length) {
      out.append(el("details", { class: "consulted" },
        el("summary", {}, `${body.passages.length} passages consulted`),
        el("ul", {}, body.passages.map((ps) => el("li", {},
          el("a", { href: paperHref(ps.paper_id) }, ps.paper_id), ` · ${ps.section || ""} · ${citeLabel(ps)}`)))));
    }
  },
};

views.paper = {
  async enter(rest) {
    const id = decodeURIComponent(rest || "");
    const form = $("#paper-form");
    const out = $("#paper-out");
    const status = $("#paper-status");
    if (this.id === id && out.childElementCount) return; // coming back: keep the card
    this.id = id;
    $("#h-paper").textContent = "Paper";
    $("#paper-meta").replaceChildren();
    out.replaceChildren();
    const meta = await busy(null, status, "Loading the paper…", () => api(`/api/papers/${encodeURIComponent(id)}`));
    if (!meta || this.id !== id) return;
    $("#h-paper").textContent = meta.title || meta.paper_id;
    $("#paper-meta").replaceChildren(
      el("p", { class: "meta" }, authorsText(meta.authors), meta.authors.length ? " · " : "", meta.date || "no date",
        meta.categories.length ? ` · ${meta.categories.join(", ")}` : "", " ", paperLinks(meta)),
      el("p", { class: "muted small" }, `${meta.paper_id} · ${meta.n_chunks} passages indexed`),
      meta.abstract ? el("details", {}, el("summary", {}, "Abstract"), el("p", {}, meta.abstract)) : null);
    this.summarize(form.elements.lang.value);
  },
  async summarize(language) {
    const id = this.id;
    const out = $("#paper-out");
    const status = $("#paper-status");
    out.replaceChildren();
    const card = await busy($("#paper-form"), status, "Writing the paper card…",
      () => api("/api/summarize", { method: "POST", json: { paper_id: id, language } }));
    if (!card || this.id !== id) return;
    const kids = [];
    if (card.keywords && card.keywords.length) {
      kids.push(el("p", { class: "keywords", "aria-label": "Keywords" }, card.keywords.map((k) => el("span", { class: "chip" }, k))));
    }
    const found = Object.entries(card.link_citations || {}).filter(([k]) => safeUrl((card.links || {})[k]));
    if (found.length) {
      // links the paper's own text gives (e.g. its code), each with the passage it came from
      const cites = found.map(([k, c]) => [k, citations([c])]);
      kids.push(el("p", { class: "meta" }, card.language === "zh" ? "链接：" : "Links: ",
        cites.map(([k, c]) => [link(safeUrl(card.links[k]), k, `${k} of ${card.title}`), " ", c.buttons, " "])),
      cites.map(([, c]) => c.panel));
    }
    if (card.affiliations && card.affiliations.length) {
      kids.push(el("h2", {}, card.language === "zh" ? "机构" : "Affiliations"), sentenceList(card.affiliations));
    }
    for (const sec of card.sections) {
      kids.push(el("h2", {}, sec.name));
      kids.push(sec.sentences.length ? sentenceList(sec.sentences)
        : el("p", { class: "muted" }, card.language === "zh" ? "论文文本中未找到相关内容。" : "Not stated in the indexed text."));
    }
    // a note that only repeats "<section>: not stated" is already shown under that section
    const empty = card.sections.filter((sec) => !sec.sentences.length).map((sec) => `${sec.name}: `);
    const notes = (card.notes || []).filter((n) => !empty.some((e) => n.startsWith(e) && n.length < e.length + 40));
    if (notes.length) kids.push(el("ul", { class: "notes", "aria-label": "Notes" }, notes.map((n) => el("li", {}, n))));
    kids.push(answerMeta(card), toolbar(card, status, `card-${card.arxiv_id || card.title}`));
    out.replaceChildren(el("article", { class: "card", "aria-label": "Paper card" }, kids));
  },
};

views.compare = {
  form: "#compare-form",
  picked: new Set(),
  params(p) {
    if (this.picked.size) p.set("ids", [...this.picked].join(","));
    return p;
  },
  enter() {
    if (!this.loaded) this.loadPapers("");
  },
  async loadPapers(q) {
    this.loaded = true;
    const list = $("#compare-papers");
    try {
      const body = await api(`/api/papers?limit=200${q ? `&q=${encodeURIComponent(q)}` : ""}`);
      list.replaceChildren(...body.papers.map((p) => el("li", {},
        el("label", {}, el("input", {
          type: "checkbox", value: p.paper_id, checked: this.picked.has(p.paper_id),
          onchange: (e) => { e.target.checked ? this.picked.add(p.paper_id) : this.picked.delete(p.paper_id); this.count(); },
        }), " ", p.title || p.paper_id, el("span", { class: "muted" }, ` ${p.date || ""}`)))));
    } catch (err) {
      list.replaceChildren(el("li", { class: "error" }, `Error: ${err.message}`));
    }
  },
  count() {
    $("#compare-picked").textContent = this.picked.size ? `(${this.picked.size} picked: they are compared instead of the topic)` : "";
  },
  async run(p) {
    const ids = splitList(p.get("ids"));
    this.picked = new Set(ids);
    this.count();
    $("#compare-papers").querySelectorAll("input[type=checkbox]").forEach((c) => (c.checked = this.picked.has(c.value)));
    const out = $("#compare-out");
    const status = $("#compare-status");
    out.replaceChildren();
    if (!ids.length && !p.get("q")) {
      setStatus(status, "Enter a topic or pick papers.", "error");
      return;
    }
    const json = { language: p.get("lang") || "en" };
    if (ids.length) json.paper_ids = ids;
    else json.query = p.get("q");
    const aspects = splitList(p.get("aspects"));
    if (aspects.length) json.aspects = aspects;
    const body = await busy($("#compare-form"), status, "Building the comparison table…",
      () => api("/api/compare", { method: "POST", json }));
    if (!body) return;
    const name = `comparison-${body.query || "papers"}`;
    const passage = el("div", { class: "cite-panel", id: "compare-passage", hidden: true, role: "region" });
    if (!body.rows.length) {
      out.append(el("p", { class: "statement" }, "No indexed paper matches this topic."), answerMeta(body));
      return;
    }
    const table = el("table", { class: "compare" },
      el("caption", {}, `Comparison: ${body.query || `${body.rows.length} papers`}`),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Paper"), body.aspects.map((a) => el("th", { scope: "col" }, a)))),
      el("tbody", {}, body.rows.map((r) => el("tr", {},
        el("th", { scope: "row" }, el("a", { href: paperHref(r.paper_id) }, r.title || r.paper_id),
          el("span", { class: "muted small block" }, [r.date, r.arxiv_id].filter(Boolean).join(" · "))),
        body.aspects.map((a) => compareCell(r.cells[a], passage))))));
    out.append(el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Comparison table (scrolls sideways)" }, table),
      passage);
    if (body.synthesis && body.synthesis.length) {
      out.append(el("h2", {}, body.language === "zh" ? "方法差异" : "How they differ"), sentenceList(body.synthesis));
    }
    out.append(answerMeta(body), toolbar(body, status, name, [
      el("button", { type: "button", class: "secondary", onclick: () => download(`${slug(name)}.csv`, compareCsv(body), "text/csv;charset=utf-8") }, "Export CSV"),
    ]));
  },
};

const notReported = (cell) => !cell || (!(cell.citations || []).length && cell.value === "not reported");

function compareCell(cell, passage) {
  if (notReported(cell)) return el("td", { class: "nr" }, "not reported");
  return el("td", {}, el("span", { class: "s-text" }, cell.value), " ", citations(cell.citations, passage).buttons);
}

/** A spreadsheet cell: quoted, and defused when it could start a formula (text from PDFs): a cell
 * starting with = + - @, a tab or a carriage return, also after leading spaces, gets a leading '
 * (numbers too: "-2+3+cmd|..." is a number to a spreadsheet until it is a command). */
function csvField(v) {
  let s = String(v ?? "");
  if (/^[\t\r]|^\s*[=+\-@]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

/** The table as CSV: paper columns, then per aspect its value and its citations (page + quote). */
function compareCsv(body) {
  const head = ["paper_id", "arxiv_id", "title", "date"];
  for (const a of body.aspects) head.push(a, `${a} citations`);
  const lines = [head];
  for (const r of body.rows) {
    const row = [r.paper_id, r.arxiv_id || "", r.title, r.date || ""];
    for (const a of body.aspects) {
      const c = r.cells[a];
      row.push(notReported(c) ? "not reported" : c.value,
        notReported(c) ? "" : c.citations.map((x) => `${citeLabel(x)}: "${x.quote}"`).join(" | "));
    }
    lines.push(row);
  }
  return "\ufeff" + lines.map((l) => l.map(csvField).join(",")).join("\r\n") + "\r\n"; // BOM: spreadsheets read UTF-8
}

views.roundup = {
  form: "#roundup-form",
  async run(p) {
    const out = $("#roundup-out");
    const status = $("#roundup-status");
    out.replaceChildren();
    const json = { topic: p.get("q"), language: p.get("lang") || "en" };
    if (p.get("from")) json.date_from = p.get("from");
    if (p.get("to")) json.date_to = p.get("to");
    const body = await busy($("#roundup-form"), status, "Writing the roundup…", () => api("/api/roundup", { method: "POST", json }));
    if (!body) return;
    if (!body.themes.length) out.append(el("p", { class: "statement" }, "No indexed paper on this topic in this window."));
    for (const theme of body.themes) {
      out.append(el("section", { class: "theme" },
        el("h2", {}, theme.title),
        el("ul", { class: "theme-papers" }, theme.papers.map((pp) => el("li", {},
          el("h3", {}, el("a", { href: paperHref(pp.paper_id) }, pp.title || pp.paper_id)),
          el("p", { class: "meta" }, pp.date || "no date", " ", paperLinks(pp)),
          sentenceList(pp.sentences))))));
    }
    out.append(answerMeta(body), toolbar(body, status, `roundup-${body.topic}`));
  },
};

views.papers = {
  form: "#papers-form",
  async run(p, more = false) {
    const list = $("#papers-list");
    const status = $("#papers-status");
    const q = p.get("q") || "";
    const offset = more ? list.childElementCount : 0;
    if (!more) list.replaceChildren();
    const body = await busy($("#papers-form"), status, "Loading…",
      () => api(`/api/papers?limit=50&offset=${offset}${q ? `&q=${encodeURIComponent(q)}` : ""}`));
    if (!body) return;
    for (const pp of body.papers) {
      list.append(el("li", {},
        el("a", { href: paperHref(pp.paper_id) }, pp.title || pp.paper_id),
        el("span", { class: "meta" }, ` ${pp.date || "no date"} · ${pp.n_chunks} passages `), paperLinks(pp)));
    }
    setStatus(status, `${list.childElementCount} shown · ${body.total} papers in the library.`);
    const btn = $("#papers-more");
    btn.hidden = body.papers.length < 50;
    btn.onclick = () => this.run(p, true);
  },
};

views.ingest = {
  async submitArxiv(ev) {
    ev.preventDefault();
    const f = ev.target.elements;
    const json = { arxiv_ids: splitList(f.ids.value.replace(/\s+/g, ",")), arxiv_query: f.query.value.trim() || null,
      max: Number(f.max.value) || 20 };
    const job = await busy(ev.target, $("#ingest-status"), "Submitting…", () => api("/api/ingest", { method: "POST", json }));
    if (job) this.follow(job.job_id, ev.target);
  },
  async submitUpload(ev) {
    ev.preventDefault();
    const form = new FormData();
    for (const file of $("#upload-files").files) form.append("files", file);
    const job = await busy(ev.target, $("#ingest-status"), "Uploading…", () => api("/api/ingest/upload", { method: "POST", form }));
    if (job) this.follow(job.job_id, ev.target);
  },
  async follow(jobId, form) {
    const status = $("#ingest-status");
    const bar = $("#ingest-progress");
    const report = $("#ingest-report");
    report.replaceChildren();
    bar.hidden = false;
    form.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      for (;;) {
        let job;
        try {
          job = await api(`/api/jobs/${encodeURIComponent(jobId)}`);
        } catch (err) {
          setStatus(status, `Error: ${err.message}`, "error");
          return;
        }
        const pr = job.progress || {};
        bar.max = Math.max(pr.total || 1, 1);
        bar.value = pr.done || 0;
        if (job.status === "done" || job.status === "failed") {
          this.report(job);
          return;
        }
        setStatus(status, `Job ${job.status}: ${pr.done || 0} of ${pr.total || "?"} sources` +
          (pr.current ? ` (now: ${pr.current})` : "") + "…", "busy");
        await new Promise((r) => setTimeout(r, 1000)); // well under the server's per-client rate limit
      }
    } finally {
      bar.hidden = true;
      form.querySelectorAll("button").forEach((b) => (b.disabled = false));
    }
  },
  report(job) {
    const status = $("#ingest-status");
    const r = job.report;
    if (!r) {
      setStatus(status, `The job failed: ${job.error || "no reason given"}`, "error");
      return;
    }
    const c = r.counts;
    setStatus(status, `Finished: ${c.ingested} ingested, ${c.replaced} replaced, ${c.unchanged} unchanged, ` +
      `${c.skipped} skipped, ${c.failed} failed.`, c.failed ? "error" : "");
    const box = $("#ingest-report");
    for (const group of ["ingested", "replaced", "unchanged", "skipped", "failed"]) {
      const items = r[group] || [];
      if (!items.length) continue;
      box.append(el("section", { class: `report-group ${group}` },
        el("h2", {}, `${group[0].toUpperCase()}${group.slice(1)} (${items.length})`),
        el("ul", {}, items.map((it) => el("li", {},
          it.paper_id && group !== "failed" && group !== "skipped"
            ? el("a", { href: paperHref(it.paper_id) }, it.title || it.paper_id) : el("strong", {}, it.title || basename(it.source)),
          el("span", { class: "muted" }, ` ${basename(it.source)}${it.chunks ? ` · ${it.chunks} passages` : ""}`),
          it.reason ? el("span", { class: "reason" }, ` — ${it.reason}`) : null,
          (it.warnings || []).length ? el("ul", { class: "warnings" }, it.warnings.map((w) => el("li", {}, w))) : null)))));
    }
    if ((r.warnings || []).length) {
      box.append(el("section", { class: "report-group" }, el("h2", {}, "Warnings"), el("ul", {}, r.warnings.map((w) => el("li", {}, w)))));
    }
  },
};

const basename = (s) => String(s || "").split(/[\\/]/).pop();

// --- router --------------------------------------------------------------------------------------

const TITLES = { search: "Search", ask: "Ask", paper: "Paper", compare: "Compare", roundup: "Roundup", papers: "Papers", ingest: "Ingest" };

function route() {
  const m = /^#\/([a-z]+)(?:\/([^?]*))?(?:\?(.*))?$/.exec(location.hash);
  const name = m && views[m[1]] ? m[1] : "search";
  const rest = m ? m[2] : "";
  const params = new URLSearchParams(m ? m[3] || "" : "");
  for (const sec of document.querySelectorAll(".view")) sec.hidden = sec.id !== `view-${name}`;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.route === name || (name === "paper" && a.dataset.route === "papers")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.title = `${TITLES[name]} · paperlens`;
  const view = views[name];
  if (view.enter) view.enter(rest, params);
  if (view.form) {
    fillForm($(view.form), params);
    const key = params.toString();
    const wanted = name === "papers" || params.get("q") || params.get("ids");
    if (wanted && (name === "papers" || lastRun[name] !== key)) {
      lastRun[name] = key;
      view.run(params);
    }
  }
}

function submitTo(name) {
  return (ev) => {
    ev.preventDefault();
    const view = views[name];
    let p = formParams(ev.target);
    if (view.params) p = view.params(p);
    lastRun[name] = undefined; // submitting again re-runs even with the same parameters
    go(`#/${name}?${p.toString()}`);
  };
}

for (const name of ["search", "ask", "compare", "roundup", "papers"]) $(views[name].form).addEventListener("submit", submitTo(name));
$("#paper-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  views.paper.summarize(ev.target.elements.lang.value);
});
let filterTimer = 0;
$("#compare-filter").addEventListener("input", (ev) => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => views.compare.loadPapers(ev.target.value.trim()), 250);
});
$("#ingest-form").addEventListener("submit", (ev) => views.ingest.submitArxiv(ev));
$("#upload-form").addEventListener("submit", (ev) => views.ingest.submitUpload(ev));
$("#key-cancel").addEventListener("click", () => $("#key-dialog").close(""));
let shown = "";
window.addEventListener("hashchange", () => {
  route();
  const now = location.hash.split(/[/?]/)[1] || "search";
  if (now !== shown) $("#main").focus({ preventScroll: true }); // screen readers start reading the new view
  shown = now;
});
route();
