#!/bin/sh
# Starts the store: a tiny HTTP key-value server on a free port of the
# machine's address (bootconf's "bind", the service's hostname).
set -e
. ./bootenv.sh
cat > server.mjs <<'JS'
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
const data = new Map();
const server = createServer((req, res) => {
  const key = decodeURIComponent(req.url.slice(1));
  if (req.method === 'PUT') {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { data.set(key, body); res.end('stored\n'); });
  } else if (req.method === 'DELETE') {
    data.delete(key); res.end('deleted\n');
  } else if (key === 'health') {
    res.end('ok\n');
  } else if (data.has(key)) {
    res.end(data.get(key));
  } else {
    res.statusCode = 404; res.end('not found\n');
  }
});
server.listen(0, process.argv[2], () => writeFileSync('port', String(server.address().port)));
JS
rm -f port
nohup node server.mjs "$bind" > server.log 2>&1 &
echo $! > server.pid
i=0
while [ ! -s port ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -s port ] || { echo "store did not start" >&2; cat server.log >&2; exit 1; }
echo "store for run $run listening on port $(cat port)"
printf '{"port": "%s", "pid": "%s"}\n' "$(cat port)" "$(cat server.pid)" > bootout.json
