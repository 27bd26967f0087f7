// /forgot-password: one form that asks for a reset link, and always shows the same message.
import { wireRequestForm } from './request-link.js';

document.getElementById('request-form').hidden = false;
wireRequestForm();
