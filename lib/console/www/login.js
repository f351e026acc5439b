/* login.js: the login page's one behaviour: after a wrong token the server sends the browser to
 * /login?failed=1, and this shows the error text (the page has no inline script under the CSP). */
(function () {
    'use strict';

    function start() {
        let failed = false;
        try {
            failed = new URLSearchParams(window.location.search).get('failed') === '1';
        } catch (e) {
            failed = false;
        }
        const err = document.getElementById('login-error');
        const tok = document.getElementById('token');
        if (failed && err) {
            err.hidden = false;
            if (tok) {
                tok.setAttribute('aria-invalid', 'true');
                tok.setAttribute('aria-describedby', 'login-error');
                tok.focus();
            }
        }
        const form = document.getElementById('login');
        const btn = document.getElementById('submit');
        if (form && btn) {
            /* one submit: a second click while the answer is on its way sends nothing */
            form.addEventListener('submit', () => {
                window.setTimeout(() => {
                    btn.disabled = true;
                }, 0);
            });
            /* coming back to the page from the history: the button works again */
            window.addEventListener('pageshow', () => {
                btn.disabled = false;
            });
        }
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', start);
    } else {
        start();
    }
})();
