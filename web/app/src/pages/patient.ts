// Plain words patients read, shared by the pages that speak to them (the
// patient portal, and the purposes other pages show). Kept apart from the
// portal (patient-portal.ts) so that a page needing only the words does not
// load the portal.
import { h } from "../ui";

// The purposes of use a consent can name (vocab.Purposes), in plain words.
export const purposeWords: Record<string, string> = {
  research: "medical research",
  public_health: "public health",
  clinical_trial: "clinical trials",
  commercial_research: "commercial research",
  model_training: "training prediction models",
  quality_improvement: "improving care quality",
  education: "education",
  clinical: "direct care (your clinicians following your readings)",
};

/** cell is a table cell that says what it is on a phone (the header row
 * is hidden there). */
export const cell = (label: string, text: unknown, cls = "") =>
  h("td", { "data-label": label, ...(cls ? { class: cls } : {}) }, text === undefined || text === null ? "" : String(text));

