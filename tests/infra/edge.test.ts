import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EDGE_CONTEXT, functionOf, nagReport, PROD_CONTEXT, synth } from './synth';

const edge = synth({ ...PROD_CONTEXT, ...EDGE_CONTEXT });
const edgeTemplate = edge.edgeTemplate as NonNullable<typeof edge.edgeTemplate>;

describe('edge protection', () => {
  it('is off unless asked for', () => {
    const plain = synth(PROD_CONTEXT);

    expect(plain.edgeStack).toBeUndefined();
    plain.template.resourceCountIs('AWS::CloudFront::Distribution', 0);
  });

  it('puts a WAF web ACL in us-east-1 with a per-IP rate limit and the AWS managed rule groups', () => {
    expect(edge.edgeStack?.region).toBe('us-east-1');
    const acl = Object.values(edgeTemplate.findResources('AWS::WAFv2::WebACL'))[0]?.Properties;

    expect(acl.Scope).toBe('CLOUDFRONT');
    expect(acl.Rules.map((rule: { Name: string }) => rule.Name)).toEqual([
      'RateLimitPerIp',
      'AWSManagedRulesCommonRuleSet',
      'AWSManagedRulesKnownBadInputsRuleSet',
    ]);
    expect(acl.Rules[0]).toMatchObject({
      Action: { Block: { CustomResponse: { ResponseCode: 429 } } },
      Statement: { RateBasedStatement: { Limit: 300, AggregateKeyType: 'IP' } },
    });
    edgeTemplate.hasResourceProperties('AWS::WAFv2::LoggingConfiguration', {
      RedactedFields: [{ SingleHeader: { Name: 'x-origin-verify' } }],
    });
  });

  it('takes the rate limit from context', () => {
    const strict = synth({ ...PROD_CONTEXT, ...EDGE_CONTEXT, edgeRateLimit: '100' });
    const acl = Object.values(strict.edgeTemplate?.findResources('AWS::WAFv2::WebACL') ?? {})[0]?.Properties;

    expect(acl.Rules[0].Statement.RateBasedStatement.Limit).toBe(100);
  });

  it('serves the custom domain through CloudFront with the ACL, the certificate and TLS 1.2', () => {
    edge.template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        Aliases: ['reset.market.example.com'],
        ViewerCertificate: Match.objectLike({
          AcmCertificateArn: EDGE_CONTEXT.certificateArn,
          MinimumProtocolVersion: 'TLSv1.2_2021',
        }),
        WebACLId: Match.anyValue(),
      }),
    });
    const distribution = JSON.stringify(edge.template.findResources('AWS::CloudFront::Distribution'));
    // The ACL's ARN crosses regions through CDK's cross-region reference reader.
    expect(distribution).toMatch(/ExportsReader/);
  });

  it('sends the origin secret from Secrets Manager and forwards the viewer address, caching nothing', () => {
    const config = Object.values(edge.template.findResources('AWS::CloudFront::Distribution'))[0]?.Properties
      .DistributionConfig;
    const header = config.Origins[0].OriginCustomHeaders[0];

    expect(header.HeaderName).toBe('x-origin-verify');
    expect(JSON.stringify(header.HeaderValue)).toMatch(
      /resolve:secretsmanager:.*OriginVerifySecret|OriginVerifySecret.*resolve:secretsmanager/,
    );
    edge.template.hasResourceProperties('AWS::CloudFront::OriginRequestPolicy', {
      OriginRequestPolicyConfig: Match.objectLike({
        HeadersConfig: {
          HeaderBehavior: 'whitelist',
          Headers: Match.arrayWith(['CloudFront-Viewer-Address']),
        },
      }),
    });
    expect(config.DefaultCacheBehavior.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad');
  });

  it('makes the functions refuse requests without the secret: they get its ARN and may read it', () => {
    const fn =
      edge.template.toJSON().Resources[
        edge.stack.getLogicalId(functionOf(edge.stack, 'RequestReset').node.defaultChild as never)
      ];
    const secrets = JSON.stringify(edge.template.findResources('AWS::IAM::Policy'));

    expect(fn.Properties.Environment.Variables.ORIGIN_VERIFY_SECRET_ARN).toEqual({
      Ref: expect.stringMatching(/^OriginVerifySecret/),
    });
    expect(secrets).toMatch(
      /"secretsmanager:GetSecretValue","Effect":"Allow","Resource":\[\{"Ref":"AccountKeySecret\w+"\},\{"Ref":"OriginVerifySecret\w+"\}\]/,
    );
  });

  it('needs the domain, a us-east-1 certificate, account and region', () => {
    expect(() => synth({ ...PROD_CONTEXT, edgeProtection: 'true' })).toThrowError(
      /needs domainName and certificateArn/,
    );
    expect(() =>
      synth({
        ...PROD_CONTEXT,
        ...EDGE_CONTEXT,
        certificateArn: EDGE_CONTEXT.certificateArn.replace('us-east-1', 'eu-west-1'),
      }),
    ).toThrowError(/certificateArn: must be an ACM certificate ARN in us-east-1/);
    expect(() => synth(EDGE_CONTEXT)).toThrowError(/account and region are required for edgeProtection/);
  });

  it('passes both cdk-nag packs in both stacks with every acknowledgement in use', () => {
    const { plugins, acknowledgements } = nagReport(edge.app);

    for (const plugin of plugins) expect(plugin.violations).toEqual([]);
    const used = new Set(
      plugins.flatMap((p) => p.suppressedViolations.map((v) => `${v.acknowledgedAt} ${v.acknowledgedId}`)),
    );
    for (const ack of acknowledgements) expect(used).toContain(`${ack.path} ${ack.id}`);
  });
});
