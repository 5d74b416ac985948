import type { Rule } from '../domain/rule.js';
import auth01 from './auth-01-local-auth-disabled.js';
import enc01 from './enc-01-cmk-perimeter-compatibility.js';
import id01 from './id-01-managed-identity-enabled.js';
import id02 from './id-02-data-source-role-assigned.js';
import id03 from './id-03-identity-least-privilege.js';
import id04 from './id-04-data-sources-in-perimeter.js';
import net01 from './net-01-public-network-access-restricted.js';
import net02 from './net-02-network-rules-effective.js';
import net03 from './net-03-network-rules-valid.js';
import net04 from './net-04-ip-rules-least-privilege.js';
import net05 from './net-05-trusted-services-bypass.js';
import net06 from './net-06-private-endpoint-connections-reviewed.js';
import net07 from './net-07-private-endpoint-required.js';
import net08 from './net-08-outbound-access-restricted.js';
import nsp01 from './nsp-01-perimeter-associated.js';
import nsp02 from './nsp-02-perimeter-enforced.js';
import nsp03 from './nsp-03-perimeter-inbound-least-privilege.js';
import nsp04 from './nsp-04-perimeter-outbound-least-privilege.js';
import nsp05 from './nsp-05-perimeter-configuration-healthy.js';
import nsp06 from './nsp-06-perimeter-access-logging.js';
import nsp07 from './nsp-07-perimeter-enforcement-ready.js';

/**
 * The rule registry: an explicit list, in catalog order (RULES.md). A meta-test checks that every
 * file in this folder is registered here and that IDs and slugs are unique.
 */
export const RULES: readonly Rule[] = [
  nsp01,
  nsp02,
  nsp03,
  nsp04,
  nsp05,
  nsp06,
  nsp07,
  net01,
  net02,
  net03,
  net04,
  net05,
  net06,
  net07,
  net08,
  id01,
  id02,
  id03,
  id04,
  auth01,
  enc01,
];

/** Finds a rule by ID, slug or alias (case-insensitive); undefined when none matches. */
export function findRule(idOrSlug: string): Rule | undefined {
  const key = idOrSlug.toLowerCase();
  return RULES.find(
    (r) => r.id.toLowerCase() === key || r.slug === key || r.aliases.some((a) => a.toLowerCase() === key),
  );
}
