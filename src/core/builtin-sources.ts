import { intervalSource, type EventSource } from './sources';

/** `/pushlet/ping` every 3 s, as Java's ping source: lets clients see the server is alive. */
function ping(): EventSource {
  let seq = 0;
  return intervalSource('ping', '/pushlet/ping', 3000, () => ({ seqNr: String(++seq) }));
}

/** A made-up stock ticker on `/demo/ticker`, one quote a second (the demo page shows it). */
function ticker(): EventSource {
  const stocks: Record<string, number> = { ACME: 120, GLOBX: 48.5, INITech: 7.25, UMBR: 310 };
  const names = Object.keys(stocks);
  let n = 0;
  return intervalSource('ticker', '/demo/ticker', 1000, () => {
    const symbol = names[n++ % names.length];
    const change = (Math.random() - 0.5) * stocks[symbol] * 0.02;
    stocks[symbol] = Math.max(0.01, stocks[symbol] + change);
    return { symbol, price: stocks[symbol].toFixed(2), change: change.toFixed(2) };
  });
}

/** Made-up temperatures on `/demo/temperature`, a city every 5 s. */
function temperature(): EventSource {
  const cities = ['Amsterdam', 'Beijing', 'Lagos', 'Lima', 'Oslo', 'Sydney'];
  let n = 0;
  return intervalSource('temperature', '/demo/temperature', 5000, () => ({
    city: cities[n++ % cities.length],
    celsius: (Math.round((Math.random() * 40 - 5) * 10) / 10).toString(),
  }));
}

export const BUILTIN_SOURCES: Record<string, () => EventSource> = { ping, ticker, temperature };
