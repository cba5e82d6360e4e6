/** The SDK arrives with the SDK issue; this shell keeps the workspace building. */
export const SDK_VERSION = "0.1.0";
