import { app, type EventGridEvent, type InvocationContext } from '@azure/functions';
import { runChangeEvaluation } from '../src/app.js';
import { loadSettings } from '../src/config/settings.js';
import { parseEvent } from '../src/events/parse.js';

/**
 * Event Grid trigger (Event Grid or CloudEvents 1.0 schema): re-evaluates the accounts a resource
 * change affects, within seconds. A malformed or unrelated event is logged with the reason and
 * completed (no retry storm); a transient ARM failure throws so Event Grid delivers it again.
 */
export async function resourceChanged(event: EventGridEvent | unknown, context: InvocationContext): Promise<void> {
  const parsed = parseEvent(event);
  if (!parsed.ok) {
    context.warn(`event rejected: ${parsed.reason}`);
    return;
  }
  const result = await runChangeEvaluation(loadSettings(process.env), parsed.event, (m) => context.log(m));
  if (result.status !== 'evaluated') context.debug(`event ${parsed.event.id}: ${result.status}${result.reason ? ` (${result.reason})` : ''}`);
}

app.eventGrid('resourceChanged', { handler: resourceChanged });
