/**
 * Every function of the app, for the deployment bundle (scripts/bundle.mjs → dist/bundle/functions.mjs):
 * importing this module registers each trigger with the Functions host. Locally `func start` can load
 * the unbundled `dist/functions/*.js` just the same.
 */
import '../functions/reports.js';
import '../functions/resourceChanged.js';
import '../functions/rules.js';
import '../functions/scanRequested.js';
import '../functions/scans.js';
import '../functions/scanShard.js';
import '../functions/scanTrend.js';
import '../functions/scheduledScan.js';
