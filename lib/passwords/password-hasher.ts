import { hash } from 'bcryptjs';

/** bcrypt, at the same cost as the existing login so both verify the same hashes. */
export type HashPassword = (password: string) => Promise<string>;

export function createPasswordHasher(cost: number): HashPassword {
  return (password) => hash(password, cost);
}
