// An independent gRPC client of the Augur gateway: Node.js @grpc/grpc-js with
// @grpc/proto-loader reading Augur's .proto files (none of Augur's generated code).
// Input (environment): AUGUR_GATEWAY host:port, AUGUR_PROTOS dir, AUGUR_TOKENS JSON
// {crm, storefront, burst}, AUGUR_CUSTOMER. Output: one JSON object on stdout.
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';
import path from 'node:path';

const protos = process.env.AUGUR_PROTOS;
const tokens = JSON.parse(process.env.AUGUR_TOKENS);
const customer = process.env.AUGUR_CUSTOMER;
const definition = protoLoader.loadSync(
  ['augur/churn/v1/churn.proto', 'augur/gateway/v1/gateway.proto'].map((p) => path.join(protos, p)),
  { includeDirs: [protos], keepCase: false, longs: String, enums: String, defaults: true },
);
const loaded = grpc.loadPackageDefinition(definition);
const address = process.env.AUGUR_GATEWAY;
const churn = new loaded.augur.churn.v1.ChurnService(address, grpc.credentials.createInsecure());
const gateway = new loaded.augur.gateway.v1.GatewayService(address, grpc.credentials.createInsecure());

function call(client, method, request, token) {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('x-api-key', token);
  return new Promise((resolve) => {
    client[method](request, metadata, { deadline: Date.now() + 5000 }, (err, reply) => {
      if (err) resolve({ code: err.code, details: err.details, metadata: err.metadata.getMap() });
      else resolve({ code: 0, reply });
    });
  });
}

const out = {};
out.score = await call(churn, 'Score', { customerId: customer, includeReasons: true }, tokens.crm);
out.noKey = await call(churn, 'Score', { customerId: customer }, null);
out.wrongScope = await call(churn, 'Score', { customerId: customer }, tokens.storefront);
out.badRequest = await call(churn, 'Score', { customerId: '' }, tokens.crm);
out.insight = await call(
  gateway, 'CustomerInsight', { customerId: customer, nRecommendations: 3 }, tokens.crm,
);
const burst = await Promise.all(
  Array.from({ length: 12 }, () => call(churn, 'Score', { customerId: customer }, tokens.burst)),
);
out.burstCodes = burst.map((r) => r.code);
out.retryAfter = burst.find((r) => r.code === grpc.status.RESOURCE_EXHAUSTED)?.metadata['retry-after'];
churn.close();
gateway.close();
process.stdout.write(JSON.stringify(out));
