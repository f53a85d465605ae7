import type { Scope } from "../keys/scopes";

/** Who is calling, as established by the API key on the request. */
export type Principal =
  | { kind: "platform_admin"; keyId: string; keyPrefix: string; scopes: readonly Scope[] }
  | {
      kind: "tenant";
      keyId: string;
      keyPrefix: string;
      tenantId: string;
      userId: string | null;
      scopes: readonly Scope[];
    };
