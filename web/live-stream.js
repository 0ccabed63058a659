// One EventSource for the whole page, so nothing is missed between pages. The device streams what
// it does; the server streams what its devices report (within about a second).
import { useEffect, useState } from './hooks.mjs';
import { runtime } from './runtime.js';

export function useLiveStream() {
  const [items, setItems] = useState([]);
  const [connected, setConnected] = useState(false);
  const [attemptTick, setAttemptTick] = useState(0);
  useEffect(() => {
    const source = new EventSource(runtime.streamUrl);
    let wasOpen = false;
    source.onopen = () => {
      setConnected(true);
      // back after a break: what happened meanwhile was not streamed, so the lists reload
      if (wasOpen) setAttemptTick((n) => n + 1);
      wasOpen = true;
    };
    source.onerror = () => setConnected(false);
    // Frames are batched and rendered at most four times a second, so a busy device (thousands of
    // attempts a second) does not re-render the page on every frame.
    let pending = [];
    let deliveriesChanged = false;
    let seq = 0;
    // A report sent again after its answer was lost repeats its events: show each once.
    const seen = new Set();
    const flush = setInterval(() => {
      if (pending.length > 0) {
        const batch = pending.reverse();
        pending = [];
        setItems((list) => [...batch, ...list].slice(0, 200));
      }
      if (deliveriesChanged) setAttemptTick((n) => n + 1);
      deliveriesChanged = false;
    }, 250);
    const add = (kind) => (message) => {
      const data = JSON.parse(message.data);
      // an attempt, or (server) a delivery that changed: the Deliveries page reloads
      if (kind !== 'event') deliveriesChanged = true;
      if (kind === 'delivery') return;
      const id = kind === 'event' ? data.eventId : `${data.deliveryId}/${data.attempt}`;
      if (seen.has(id)) return;
      seen.add(id);
      if (seen.size > 2000) seen.delete(seen.values().next().value);
      pending.push({ kind, data, key: `${kind}-${seq++}`, at: Date.now() });
      if (pending.length > 200) pending.splice(0, pending.length - 200);
    };
    source.addEventListener('event', add('event'));
    source.addEventListener('attempt', add('attempt'));
    source.addEventListener('delivery', add('delivery'));
    return () => (source.close(), clearInterval(flush));
  }, []);
  return { items, connected, attemptTick };
}
