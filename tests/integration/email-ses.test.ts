import { emailDeliverySuite } from '../support/email-delivery-suite';
import { STRESS } from '../support/sizes';

/** EMAIL_PROVIDER=ses against the aws-ses-v2-local emulator, through the real @aws-sdk/client-sesv2. */
emailDeliverySuite('ses', { resets: STRESS ? 1000 : 200 });
