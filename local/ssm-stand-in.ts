import { createServer, type Server } from 'node:http';
import { freePort } from './free-port';

/**
 * A loopback stand-in for the two SSM calls the service makes, speaking the real AWS JSON 1.1
 * protocol, so the SDK, Powertools Parameters, the cache and the fail-closed path all run
 * unchanged when AWS_ENDPOINT_URL_SSM points here. It can be stopped and restarted to test
 * SSM outages.
 */
export interface SsmStandIn {
  endpoint: string;
  /** Counts GetParameter calls, to show the cache working. */
  readonly getCalls: number;
  put(name: string, value: string): void;
  /** Stops answering (the port refuses connections) until resume(). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSsmStandIn(initial: Record<string, string> = {}): Promise<SsmStandIn> {
  const parameters = new Map(Object.entries(initial).map(([name, value]) => [name, { value, version: 1 }]));
  const port = await freePort();
  let getCalls = 0;
  let server: Server | undefined;

  const reply = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify(body));
  };

  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          const target = String(req.headers['x-amz-target'] ?? '');
          let input: { Name?: string; Value?: string };
          try {
            input = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
          } catch {
            return reply(res, 400, { __type: 'ValidationException', message: 'Malformed JSON' });
          }
          const name = String(input.Name ?? '');
          if (target === 'AmazonSSM.GetParameter') {
            getCalls++;
            const found = parameters.get(name);
            if (!found)
              return reply(res, 400, { __type: 'ParameterNotFound', message: `Parameter ${name} not found` });
            return reply(res, 200, {
              Parameter: {
                Name: name,
                Type: 'String',
                Value: found.value,
                Version: found.version,
                DataType: 'text',
              },
            });
          }
          if (target === 'AmazonSSM.PutParameter') {
            const version = (parameters.get(name)?.version ?? 0) + 1;
            parameters.set(name, { value: String(input.Value ?? ''), version });
            return reply(res, 200, { Version: version, Tier: 'Standard' });
          }
          return reply(res, 400, { __type: 'InvalidAction', message: `Unsupported ${target}` });
        });
      });
      server.listen(port, '127.0.0.1', resolve);
    });

  const close = () =>
    new Promise<void>((resolve) => {
      if (!server) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
      server = undefined;
    });

  await listen();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get getCalls() {
      return getCalls;
    },
    put: (name, value) => {
      parameters.set(name, { value, version: (parameters.get(name)?.version ?? 0) + 1 });
    },
    pause: close,
    resume: listen,
    stop: close,
  };
}
