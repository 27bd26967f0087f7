import { en } from 'zod/locales';
import * as z from 'zod/mini';

/**
 * zod/mini ships without error messages ("Invalid input" for everything); classic zod loads the
 * English ones itself. Every module that defines a schema imports this file, so config errors and
 * 400 `errors[].message` read as they always did. zod keeps one global config, so this is once.
 */
z.config(en());
