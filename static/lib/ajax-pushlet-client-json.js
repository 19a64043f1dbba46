/*
 * The AJAX Pushlet client with `p_format=json`. The server serves pushlet-common.js and
 * ajax-pushlet-client.js in front of this line (src/http/static.ts), so the page includes
 * this one script; the format is read when the client joins, after this line ran.
 */
window.PL.format = 'json';
