import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes `<dir>/rules/motors.yaml`: the S7 motor alarm (plc-line4) goes to maintenance and
 * escalates to tom at `level1`, then to the plant-oncall schedule at `level2`, until
 * acknowledged. Returns the rules directory.
 */
export function writeMotorEscalationRules(dir: string, level1: string, level2: string): string {
  const rulesDir = join(dir, 'rules');
  mkdirSync(rulesDir, { recursive: true });
  writeFileSync(
    join(rulesDir, 'motors.yaml'),
    [
      'escalations:',
      '  - name: motor-escalation',
      '    levels:',
      `      - { after: ${level1}, receivers: [tom] }`,
      `      - { after: ${level2}, receivers: [plant-oncall] }`,
      '    stopOn: acknowledged',
      'rules:',
      '  - name: motors-escalate',
      '    when: { fact: device.id, operator: equal, value: plc-line4 }',
      '    then: { receivers: [maintenance], escalation: motor-escalation, notifyResolved: false }',
      '',
    ].join('\n'),
  );
  return rulesDir;
}
