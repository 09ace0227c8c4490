// paperlens UI: talks to the API over HTTP only. Paper text is always inserted as text
// (textContent / text nodes), never as HTML, so nothing inside a PDF can inject markup.
"use strict";

const $ = (sel) => document.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

async function api(path, options = {}) {
  const resp = await fetch(path, options);
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const fields = (body.errors || []).map((e) => `${e.field}: ${e.message}`).join("; ");
    throw new Error(fields || body.detail || `HTTP ${resp.status}`);
  }
  return body;
}

const list = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);

// Wraps every occurrence of a query term in <mark>, building text nodes only.
function highlighted(text, query) {
  const terms = query.toLowerCase().split(/\s+/).filter((t) => t.length > 1);
  const frag = document.createDocumentFragment();
  if (!terms.length) { frag.append(text); return frag; }
  const escaped = terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const re = new RegExp(`(${escaped.join("|")})`, "gi");
  let last = 0;
  for (const m of text.matchAll(re)) {
    frag.append(text.slice(last, m.index), el("mark", {}, m[0]));
    last = m.index + m[0].length;
  }
  frag.append(text.slice(last));
  return frag;
}

function links(item) {
  const out = el("span", { class: "links" });
  const l = item.links || {};
  const abs = l.arxiv || (item.arxiv_id ? `https://arxiv.org/abs/${item.arxiv_id}` : null);
  const pdf = l.pdf || (item.arxiv_id ? `https://arxiv.org/pdf/${item.arxiv_id}` : null);
  if (abs) out.append(el("a", { href: abs, rel: "noopener", target: "_blank" }, "arXiv"));
  if (pdf) out.append(" ", el("a", { href: pdf, rel: "noopener", target: "_blank" }, "PDF"));
  if (l.code) out.append(" ", el("a", { href: l.code, rel: "noopener", target: "_blank" }, "code"));
  return out;
}

async function search(ev) {
  ev.preventDefault();
  const query = $("#q").value.trim();
  const filters = {
    date_from: $("#date-from").value || null,
    date_to: $("#date-to").value || null,
    categories: list($("#categories").value),
    authors: list($("#authors").value),
  };
  const status = $("#search-status");
  const hits = $("#hits");
  status.textContent = "Searching…";
  hits.replaceChildren();
  try {
    const body = await api("/api/search", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query, k: Number($("#k").value) || 10, filters }),
    });
    status.textContent = body.hits.length ? `${body.hits.length} passages` : "No results.";
    for (const h of body.hits) {
      const where = h.page ? `p. ${h.page}${h.page_end > h.page ? "–" + h.page_end : ""}` : h.doc_kind;
      hits.append(el("li", { class: "hit" },
        el("div", { class: "hit-title" }, h.title || h.paper_id),
        el("div", { class: "meta" },
          `${(h.authors || []).slice(0, 4).join(", ")}${h.authors.length > 4 ? " et al." : ""}`,
          ` · ${h.date || "n.d."} · ${h.section || "—"} · ${where} `, links(h)),
        el("p", { class: "passage" }, highlighted(h.text, query))));
    }
  } catch (err) {
    status.textContent = `Error: ${err.message}`;
  }
}

async function listPapers(ev) {
  if (ev) ev.preventDefault();
  const q = $("#papers-q").value.trim();
  const status = $("#papers-status");
  try {
    const body = await api(`/api/papers?limit=200${q ? "&q=" + encodeURIComponent(q) : ""}`);
    status.textContent = `${body.total} papers indexed`;
    $("#papers").replaceChildren(...body.papers.map((p) => el("li", {},
      el("strong", {}, p.title || p.paper_id), " ",
      el("span", { class: "meta" }, `${p.date || "n.d."} · ${p.n_chunks} chunks · ${(p.documents || []).join(", ")} `),
      links(p))));
  } catch (err) {
    status.textContent = `Error: ${err.message}`;
  }
}

async function followJob(jobId) {
  const status = $("#job-status");
  const bar = $("#job-progress");
  bar.hidden = false;
  for (;;) {
    const job = await api(`/api/jobs/${jobId}`);
    const p = job.progress || {};
    bar.max = Math.max(p.total || 1, 1);
    bar.value = p.done || 0;
    status.textContent = `Job ${job.status}: ${p.done || 0} of ${p.total || "?"} sources`;
    if (job.status === "done" || job.status === "failed") {
      bar.hidden = true;
      const r = job.report;
      if (r) {
        const c = r.counts;
        status.textContent = `Done: ${c.ingested} ingested, ${c.replaced} replaced, ${c.unchanged} unchanged, ${c.skipped} skipped, ${c.failed} failed`;
        const lines = [];
        for (const s of ["ingested", "replaced", "skipped", "failed"]) {
          for (const it of r[s]) lines.push(`${s}: ${it.title || it.paper_id || it.source}${it.reason ? " — " + it.reason : ""}`);
        }
        $("#job-report").textContent = lines.join("\n");
      } else {
        status.textContent = `Job failed: ${job.error}`;
      }
      return;
    }
    await new Promise((r) => setTimeout(r, 700));
  }
}

async function ingestArxiv(ev) {
  ev.preventDefault();
  const body = {
    arxiv_ids: list($("#arxiv-ids").value),
    arxiv_query: $("#arxiv-query").value.trim() || null,
    max: Number($("#arxiv-max").value) || 20,
  };
  try {
    const job = await api("/api/ingest", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    await followJob(job.job_id);
  } catch (err) {
    $("#job-status").textContent = `Error: ${err.message}`;
  }
}

async function upload(ev) {
  ev.preventDefault();
  const form = new FormData();
  for (const f of $("#pdf-files").files) form.append("files", f);
  try {
    const job = await api("/api/ingest/upload", { method: "POST", body: form });
    await followJob(job.job_id);
  } catch (err) {
    $("#job-status").textContent = `Error: ${err.message}`;
  }
}

function show(view) {
  for (const tab of document.querySelectorAll(".tab")) tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  for (const sec of document.querySelectorAll(".view")) sec.hidden = sec.id !== `view-${view}`;
  if (view === "papers") listPapers();
}

for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => show(tab.dataset.view));
$("#search-form").addEventListener("submit", search);
$("#papers-form").addEventListener("submit", listPapers);
$("#ingest-form").addEventListener("submit", ingestArxiv);
$("#upload-form").addEventListener("submit", upload);
