// A receiver in its own process: appends every delivery id it gets to a file, answers 200.
// Usage: node --import tsx test/helpers/recorder-process.ts <file> [delayMs]
import { createServer } from 'node:http';
import { appendFileSync } from 'node:fs';

const [file, delay = '0'] = process.argv.slice(2);
const delayMs = Number(delay);
createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const answer = () => {
      try {
        appendFileSync(file, JSON.parse(Buffer.concat(chunks).toString('utf8')).id + '\n');
        res.writeHead(200).end('ok');
      } catch {
        res.writeHead(400).end('bad body');
      }
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
}).listen(0, '127.0.0.1', function (this: import('node:net').Server) {
  process.stdout.write(
    `ready ${JSON.stringify({ url: `http://127.0.0.1:${(this.address() as { port: number }).port}` })}\n`,
  );
});
