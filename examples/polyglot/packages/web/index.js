const { twice } = require("@acme/utils"); module.exports = () => twice(21);
