import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { auditAct } from '../audit.js';
import type { ApiContext } from '../context.js';
import { ErrorBody } from './schemas.js';

const Problem = z.object({ file: z.string(), line: z.number().int().nullable(), key: z.string().nullable(), problem: z.string(), text: z.string().describe('the whole line, as `annunciator check` prints it') }).meta({ id: 'ReloadProblem' });

/**
 * `POST /-/reload` (at the root, as in Alertmanager) and `POST /api/v1/reload`: what SIGHUP
 * does (App.reload): the whole configuration is read and checked, and swapped in only if
 * all of it is good; otherwise the one in force stays. Admins only; audited either way.
 */
export function registerReload(app: FastifyInstance, ctx: ApiContext, url: string): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    url,
    {
      config: { role: 'admin' },
      schema: {
        summary: 'Reload the configuration, rules and templates: swapped in whole, or refused with every problem (the one in force stays)',
        tags: ['reload'],
        response: {
          200: z.object({
            message: z.string(),
            applied: z.array(z.string()).describe('key paths changed and in force now'),
            needRestart: z.array(z.string()).describe('key paths changed in the file that take effect after a restart'),
          }),
          400: ErrorBody.extend({ problems: z.array(Problem) }),
          401: ErrorBody,
          403: ErrorBody,
        },
      },
    },
    async (req, res) => {
      const outcome = ctx.reload();
      const at = ctx.now();
      if (outcome.ok) {
        const applied = outcome.applied ?? [];
        const needRestart = outcome.needRestart ?? [];
        req.log.info({ applied, needRestart }, outcome.message);
        await auditAct(ctx, req, at, { action: 'reload', detail: { ok: true, applied, needRestart } });
        return res.code(200).send({ message: outcome.message, applied, needRestart });
      }
      req.log.error(outcome.message);
      const problems = (outcome.problems ?? [{ file: '', problem: outcome.message, text: outcome.message }]).map((p) => ({ file: p.file, line: p.line ?? null, key: p.key ?? null, problem: p.problem, text: p.text }));
      await auditAct(ctx, req, at, { action: 'reload', detail: { ok: false, problems: problems.map((p) => p.text) } });
      return res.code(400).send({ error: outcome.message, problems });
    },
  );
}
