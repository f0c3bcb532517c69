import { ApiError, login } from '../api.js';
import { h, note, replace } from '../dom.js';

export async function render(main, _route, session) {
  const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const name = h('input', { name: 'username', id: 'login-name', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', id: 'login-password', type: 'password', autocomplete: 'current-password', required: true });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h(
    'form',
    { class: 'login card', onsubmit: submit },
    h('h1', {}, 'Log in'),
    h('label', { for: 'login-name' }, 'Name'),
    name,
    h('label', { for: 'login-password' }, 'Password'),
    password,
    button,
    status,
  );
  async function submit(event) {
    event.preventDefault();
    button.disabled = true;
    replace(status);
    try {
      await login(name.value.trim(), password.value);
      await session.loggedIn();
    } catch (error) {
      const message = error instanceof ApiError && error.status === 401 ? 'Name or password is wrong.' : error.message;
      replace(status, note(message, 'error'));
      password.select();
    } finally {
      button.disabled = false;
    }
  }
  replace(main, form);
  name.focus();
}
