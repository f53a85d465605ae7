// The entries behaviour suite on a D1 shard (test/entries/postgres.test.ts runs it on PostgreSQL).
import { entryDocumentBehaviour } from "./behaviour/document";
import { entryErrorsBehaviour } from "./behaviour/errors";
import { entryRoutesBehaviour } from "./behaviour/routes";
import { storageQuotaBehaviour } from "./behaviour/storage-quota";
import { onShard } from "./fixture";

onShard("d1-shared-0");
entryRoutesBehaviour();
entryErrorsBehaviour();
entryDocumentBehaviour();
storageQuotaBehaviour();
