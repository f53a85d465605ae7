// The entries behaviour suite on the PostgreSQL shard, through Hyperdrive (see d1.test.ts).
import { entryDocumentBehaviour } from "./behaviour/document";
import { entryErrorsBehaviour } from "./behaviour/errors";
import { entryRoutesBehaviour } from "./behaviour/routes";
import { storageQuotaBehaviour } from "./behaviour/storage-quota";
import { onShard } from "./fixture";

onShard("pg-0");
entryRoutesBehaviour();
entryErrorsBehaviour();
entryDocumentBehaviour();
storageQuotaBehaviour();
