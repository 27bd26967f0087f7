import {
  CfnOutput,
  Duration,
  Fn,
  type RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestHeaderBehavior,
  OriginRequestPolicy,
  OriginRequestQueryStringBehavior,
  OriginSslPolicy,
  PriceClass,
  SecurityPolicyProtocol,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { CfnLoggingConfiguration, CfnWebACL } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { ORIGIN_VERIFY_HEADER } from '../lib/http/client-ip';

export interface EdgeFirewallStackProps extends StackProps {
  stage: string;
  /** Requests per 5 minutes from one IP before WAF answers 429. */
  rateLimitPer5Minutes: number;
  retention: RetentionDays;
  removalPolicy: RemovalPolicy;
}

/**
 * The WAF web ACL for CloudFront. CloudFront web ACLs must live in us-east-1, so this is its own
 * stack there; the service stack reads the ACL's ARN through a cross-region reference.
 * Rules, in order: a per-IP rate limit, then AWS's common and known-bad-inputs rule groups.
 */
export class EdgeFirewallStack extends Stack {
  readonly webAclArn: string;

  constructor(scope: Construct, id: string, props: EdgeFirewallStackProps) {
    super(scope, id, props);
    const visibility = (metricName: string) => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName,
    });
    const managed = (priority: number, name: string) => ({
      name,
      priority,
      overrideAction: { none: {} },
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
      visibilityConfig: visibility(name),
    });
    const acl = new CfnWebACL(this, 'WebAcl', {
      scope: 'CLOUDFRONT',
      defaultAction: { allow: {} },
      description: `Password reset ${props.stage} - per-IP rate limit and AWS managed rules`,
      visibilityConfig: visibility(`password-reset-${props.stage}`),
      rules: [
        {
          name: 'RateLimitPerIp',
          priority: 0,
          action: { block: { customResponse: { responseCode: 429 } } },
          statement: {
            rateBasedStatement: {
              limit: props.rateLimitPer5Minutes,
              evaluationWindowSec: 300,
              aggregateKeyType: 'IP',
            },
          },
          visibilityConfig: visibility('RateLimitPerIp'),
        },
        managed(1, 'AWSManagedRulesCommonRuleSet'),
        managed(2, 'AWSManagedRulesKnownBadInputsRuleSet'),
      ],
    });
    // WAF's own log: every blocked request with the client IP (names must start with aws-waf-logs-).
    const logs = new LogGroup(this, 'WafLogs', {
      logGroupName: `aws-waf-logs-password-reset-${props.stage}`,
      retention: props.retention,
      removalPolicy: props.removalPolicy,
    });
    new CfnLoggingConfiguration(this, 'WafLogging', {
      resourceArn: acl.attrArn,
      logDestinationConfigs: [logs.logGroupArn],
      redactedFields: [{ singleHeader: { Name: ORIGIN_VERIFY_HEADER } }],
      loggingFilter: {
        DefaultBehavior: 'DROP',
        Filters: [
          {
            Behavior: 'KEEP',
            Requirement: 'MEETS_ANY',
            Conditions: [{ ActionCondition: { Action: 'BLOCK' } }, { ActionCondition: { Action: 'COUNT' } }],
          },
        ],
      },
    });
    this.webAclArn = acl.attrArn;
  }
}

export interface EdgeDistributionProps {
  api: HttpApi;
  webAclArn: string;
  domainName: string;
  certificateArn: string;
  originVerifySecret: ISecret;
}

/**
 * CloudFront in front of the HTTP API. It adds the origin-verify secret header (CloudFront
 * overwrites any header of that name a client sends) and CloudFront-Viewer-Address, which the
 * functions trust only together with the secret. Nothing is cached.
 */
export class EdgeDistribution extends Construct {
  readonly distribution: Distribution;

  constructor(scope: Construct, id: string, props: EdgeDistributionProps) {
    super(scope, id);
    const apiDomain = Fn.select(2, Fn.split('/', props.api.apiEndpoint));
    const originRequestPolicy = new OriginRequestPolicy(this, 'OriginRequest', {
      comment: 'Password reset: only the headers the API reads, plus the viewer address',
      headerBehavior: OriginRequestHeaderBehavior.allowList(
        'content-type',
        'origin',
        'access-control-request-method',
        'access-control-request-headers',
        // CloudFront sets this one itself (VIEWER_ADDRESS_HEADER), spelled as CloudFront names it.
        'CloudFront-Viewer-Address',
      ),
      queryStringBehavior: OriginRequestQueryStringBehavior.none(),
    });
    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'Password reset API behind AWS WAF',
      domainNames: [props.domainName],
      certificate: Certificate.fromCertificateArn(this, 'Certificate', props.certificateArn),
      minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
      httpVersion: HttpVersion.HTTP2_AND_3,
      priceClass: PriceClass.PRICE_CLASS_100,
      webAclId: props.webAclArn,
      defaultBehavior: {
        origin: new HttpOrigin(apiDomain, {
          protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
          originSslProtocols: [OriginSslPolicy.TLS_V1_2],
          readTimeout: Duration.seconds(30),
          customHeaders: {
            // A CloudFormation dynamic reference: the value stays in Secrets Manager, not in the template.
            [ORIGIN_VERIFY_HEADER]: props.originVerifySecret.secretValue.unsafeUnwrap(),
          },
        }),
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: AllowedMethods.ALLOW_ALL,
        cachePolicy: CachePolicy.CACHING_DISABLED,
        originRequestPolicy,
      },
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions::AwsSolutions-CFR1',
      reason:
        'A password reset serves users wherever they are; geo blocking would lock out travellers. WAF rate limits apply everywhere.',
    });
    Validations.of(this.distribution).acknowledge({
      id: 'AwsSolutions::AwsSolutions-CFR3',
      reason:
        "Every blocked or counted request is in WAF's log (edge stack), and every forwarded one in the API access log; CloudFront standard logs would need an ACL-enabled S3 bucket.",
    });
    new CfnOutput(Stack.of(this), 'EdgeDomainName', {
      value: this.distribution.distributionDomainName,
      description: `Point ${props.domainName} (CNAME or alias record) at this CloudFront domain`,
    });
  }
}
