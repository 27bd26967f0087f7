import { emailDeliverySuite } from '../support/email-delivery-suite';
import { STRESS } from '../support/sizes';

/** EMAIL_PROVIDER=smtp against a local smtp-server, through nodemailer. */
emailDeliverySuite('smtp', { resets: STRESS ? 1000 : 200 });
