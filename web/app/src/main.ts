// medchain's web app. Pages are sections of index.html shown by the URL's
// hash (#network, #signin, #patient, #console, #explorer). Everything read comes from
// the node's public /v1 API; everything signed is signed here.
import { Node } from "./api";
import { refreshOverview, loadStatus } from "./pages/overview";
import { renderPatient, wirePatient } from "./pages/patient";
import { renderSignIn, wireSignIn } from "./pages/signin";
import { wireExplorer } from "./pages/explorer";
import { renderConsole, wireConsole } from "./pages/console";
import { onKeyChange } from "./session";
import { $ } from "./ui";

const node = new Node();
const pages = ["network", "signin", "patient", "console", "explorer"];

function show() {
  const want = location.hash.slice(1) || "network";
  const page = pages.includes(want) ? want : "network";
  for (const p of pages) {
    $(p).hidden = p !== page;
    document.querySelector(`nav a[href="#${p}"]`)?.setAttribute("aria-current", p === page ? "page" : "false");
  }
  if (page === "network") refreshOverview(node);
  if (page === "signin") renderSignIn();
  if (page === "patient") renderPatient(node);
  if (page === "console") renderConsole(node);
}

onKeyChange((k) => {
  $("whoami").textContent = k ? `${k.name}${k.dev ? " (DEV ONLY)" : ""}` : "not signed in";
  if (location.hash === "#patient") renderPatient(node);
  if (location.hash === "#console") renderConsole(node);
});

wireSignIn();
wirePatient(node);
wireExplorer(node);
wireConsole(node);
window.addEventListener("hashchange", show);
show();
setInterval(() => {
  if ($("network").hidden === false) loadStatus(node);
}, 3000);
