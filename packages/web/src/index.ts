/** The dashboard arrives with the dashboard issue; this shell keeps the workspace building. */
export const WEB_VERSION = "0.1.0";
