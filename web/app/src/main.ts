// medchain's web app. Pages are sections of index.html shown by the URL's
// hash (#network, #signin, #patient, #console, #explorer, #studio, #job/ID,
// #models, #models/ID).
// Everything read comes from the node's public /v1 API; everything signed is
// signed here. The studio, job and patient pages (plots, age decryption,
// receipts) load on first use, so the first page stays small.
import "uplot/dist/uPlot.min.css";
import { Node } from "./api";
import { refreshOverview, loadStatus } from "./pages/overview";
import { renderSignIn, wireSignIn } from "./pages/signin";
import { wireExplorer } from "./pages/explorer";
import { renderConsole, wireConsole } from "./pages/console";
import { onKeyChange } from "./session";
import { live } from "./live";
import { $ } from "./ui";

const node = new Node();
const pages = ["network", "signin", "patient", "console", "explorer", "studio", "job", "models"];
const studio = () => import("./pages/studio");
const job = () => import("./pages/job");
const models = () => import("./pages/models");
let modelsWired = false;
const patient = () => import("./pages/patient-portal");
let studioWired = false;
let patientWired = false;
let jobLoaded = false; // the job page stops polling when left

async function renderStudioPage() {
  const s = await studio();
  if (!studioWired) {
    studioWired = true;
    s.wireStudio(node);
  }
  await s.renderStudio(node);
}

async function renderPatientPage(topic?: string) {
  const p = await patient();
  if (!patientWired) {
    patientWired = true;
    p.wirePatient(node);
  }
  await p.renderPatient(node, topic);
}

function show() {
  const [want, arg] = (location.hash.slice(1) || "network").split("/");
  const page = pages.includes(want) ? want : "network";
  for (const p of pages) {
    $(p).hidden = p !== page;
    if (p !== "job") document.querySelector(`nav a[href="#${p}"]`)?.setAttribute("aria-current", p === page || (p === "studio" && page === "job") ? "page" : "false");
  }
  if (page === "network") refreshOverview(node);
  if (page === "signin") renderSignIn();
  if (page === "patient") renderPatientPage(arg);
  if (page === "console") renderConsole(node);
  if (page === "studio") renderStudioPage();
  if (page === "models") models().then((m) => {
    if (!modelsWired) {
      modelsWired = true;
      m.wireModels(node);
    }
    return m.renderModels(node, arg);
  });
  if (page === "job") {
    jobLoaded = true;
    job().then((m) => m.renderJob(node, Number(arg)));
  } else if (jobLoaded) job().then((m) => m.leaveJob());
}

onKeyChange((k) => {
  $("whoami").textContent = k ? `${k.name}${k.dev ? " (DEV ONLY)" : ""}` : "not signed in";
  if (location.hash.startsWith("#patient")) renderPatientPage(location.hash.split("/")[1]);
  if (location.hash === "#console") renderConsole(node);
  if (location.hash === "#studio") renderStudioPage();
});

wireSignIn();
wireExplorer(node);
wireConsole(node);
window.addEventListener("hashchange", show);
show();
// New blocks are pushed by the node (live.ts: its event stream, or polling
// where the stream cannot be had); the overview's status follows them.
live(node, {
  onBlock: () => {
    if ($("network").hidden === false) loadStatus(node);
  },
});
