// The web app's library entry: what pages and tests import.
export * from "./canonical";
export * from "./tx";
export * from "./json";
export * from "./reqsig";
export { forestPlot, rocPlot, calibrationPlot, kmPlot, kmSteps } from "./plots";
export { timeline } from "./timeline";
export { verifyMembership, decodeCBOR, jobKey } from "./stateproof";
export { verifySignedHeader, headerHash, validatorSetHash, voteSignBytes } from "./lightclient";
export { verifyConsistency, rootFromInclusion } from "./audit";
export { walletAt } from "./wallets";
export { patientKey, tagFor, contains } from "./receipts";
export { signRewardRequest, signRecordRequest } from "./patientreq";
export { shareHash } from "./sharehash";
export { passcodeVerifier, linkText } from "./sharehash";
