/**
 * A department's contact number as county lists write it: digits with spaces and + - ( ), an
 * extension (0874-3123456 转 8001, 分机 8001) and a second number (13800000000/13900000000,
 * 0874-3123456、0874-3123457). Empty is none; words alone (值班室) are no number.
 */
export const CONTACT_PHONE = /^$|^(?=.*\d)[0-9+\-() /、,，;；转分机]{1,40}$/;
export const CONTACT_PHONE_MAX = 40;
