/** Opaque keyset cursor: base64url of the last seen id. */
export function encodeCursor(value: string): string {
  return btoa(value).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Returns "" for input that is not base64url, which no id pattern accepts. */
export function decodeCursor(cursor: string): string {
  try {
    return atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
  } catch {
    return "";
  }
}
