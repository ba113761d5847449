() => {
  // Sanad's page behaviour, run once by Gradio when the page has loaded (ui/app.py passes it as `js`).
  // The event handlers of ui/app.py call the helpers installed here on `window.sanad`.
  const NARROW = "(max-width: 768px)"; // the breakpoint of ui/style.css: phones get the one-column page
  const MAX = Number(document.querySelector("#question textarea")?.maxLength) || 2000;

  document.documentElement.lang = "ar";
  document.documentElement.dir = "rtl";

  const settings = () => document.querySelector("#settings");
  const toggleSettings = () => settings()?.querySelector(".toggle-button")?.click();
  // The settings start closed (on a phone they would cover the chat); beside the chat on wide screens.
  if (!window.matchMedia(NARROW).matches && !settings()?.classList.contains("open")) {
    toggleSettings();
  }

  // A short notice at the bottom of the screen, read out by screen readers.
  let noticeTimer = 0;
  const notify = (message) => {
    let note = document.getElementById("sanad-notice");
    if (!note) {
      note = document.createElement("div");
      note.id = "sanad-notice";
      note.dir = "rtl";
      note.setAttribute("role", "status");
      note.setAttribute("aria-live", "polite");
      document.body.appendChild(note);
    }
    note.textContent = message;
    note.classList.add("shown");
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => note.classList.remove("shown"), 3000);
  };

  // navigator.clipboard needs a secure context (https or localhost); the textarea fallback covers http.
  const copy = async (text) => {
    if (!text) {
      notify("لا توجد إجابة مكتملة لنسخها بعد.");
      return;
    }
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      const copied = document.execCommand("copy");
      area.remove();
      if (!copied) {
        notify("تعذّر النسخ؛ حدّد نص الإجابة وانسخه يدويًا.");
        return;
      }
    }
    notify("نُسخت الإجابة ومصادرها ✓");
  };

  // The question counter under the input box, and a notice when a paste was longer than the limit (the
  // box's maxlength cuts it, silently otherwise).
  let cutFrom = 0;
  const count = (text) => {
    const counter = document.querySelector("#question-counter .counter");
    if (!counter) return;
    const length = (text || "").length;
    if (length < MAX) cutFrom = 0; // shortened since the paste: the notice has done its work
    counter.querySelector(".count").textContent = `${length} / ${MAX}`;
    counter.classList.toggle("near", length > MAX * 0.9);
    counter.querySelector(".cut").textContent = cutFrom
      ? `النص الملصق أطول من الحد (${cutFrom} حرفًا): أُبقي أول ${MAX} حرف فقط؛ اختصر السؤال.`
      : "";
  };
  count("");
  document.addEventListener(
    "paste",
    (event) => {
      const box = event.target.closest?.("#question textarea");
      if (!box) return;
      const pasted = event.clipboardData?.getData("text") || "";
      const total = box.value.length - (box.selectionEnd - box.selectionStart) + pasted.length;
      cutFrom = total > MAX ? total : 0;
      setTimeout(() => count(box.value), 0);
      // Gradio grows the box to fit the pasted text a moment later (later still on a busy machine), which
      // can push the notice below the fold: keep it in view whenever the box resizes, for 3 s after the
      // paste, and once more when that time is up.
      const keep = () => {
        if (cutFrom) document.querySelector("#question-counter")?.scrollIntoView({ block: "nearest" });
      };
      const watcher = new ResizeObserver(keep);
      watcher.observe(box);
      for (const delay of [0, 150, 500]) setTimeout(keep, delay);
      setTimeout(() => {
        watcher.disconnect();
        keep();
      }, 3000);
    },
    true,
  );

  // On narrow screens the side panel of sources is hidden: a [n] marker opens the sources under its own
  // answer and scrolls to the passage there instead.
  document.addEventListener(
    "click",
    (event) => {
      const link = event.target.closest?.("#chat a.cite");
      if (!link || !window.matchMedia(NARROW).matches) return;
      const passage = document.getElementById(`m-${link.hash.slice(1)}`);
      if (!passage) return;
      event.preventDefault();
      passage.closest("details").open = true;
      passage.scrollIntoView({ block: "center" });
      passage.classList.add("flash");
      setTimeout(() => passage.classList.remove("flash"), 1500);
    },
    true,
  );

  // The upload report is at the bottom of the settings: bring it into view once it is written.
  const showReport = () =>
    setTimeout(() => document.querySelector("#upload-report")?.scrollIntoView({ block: "nearest" }), 50);

  // Gradio writes some tooltips and screen-reader labels in English whatever the language: Arabic ones.
  const LABELS = {
    Retry: "أعد المحاولة",
    Undo: "تراجع عن هذا السؤال",
    Clear: "امسح المحادثة",
    "Toggle Sidebar": "إظهار الإعدادات أو إخفاؤها",
    "chatbot conversation": "المحادثة",
    "Click to upload or drop files": "انقر لاختيار الملفات أو أفلتها هنا",
    "Reset to default value": "أعد القيمة الافتراضية",
  };
  const relabel = (root) => {
    if (!(root instanceof Element)) return;
    for (const element of [root, ...root.querySelectorAll("[aria-label], [title]")]) {
      for (const name of ["aria-label", "title"]) {
        const value = element.getAttribute(name) ?? "";
        const arabic = LABELS[value] ?? value.replace(/^Select example (\d+): /, "اختر المثال $1: ");
        if (arabic !== value) element.setAttribute(name, arabic);
      }
    }
  };
  relabel(document.body);
  new MutationObserver((changes) => {
    for (const change of changes) change.addedNodes.forEach(relabel);
  }).observe(document.body, { childList: true, subtree: true });

  window.sanad = { copy, count, notify, showReport, toggleSettings };
}
